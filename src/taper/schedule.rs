//! From a request to a list of steps: which items are tapered (and which are
//! held, and why), in what order, and which rung of the combined ladder each
//! step stands on, for how many days.
//!
//! The combined ladder puts the items' own ladders end to end in reduction
//! order (the first item all the way down, then the next), so its totals fall
//! strictly. Each step picks the rung nearest the ideal total for that step
//! (a straight line from the start for `original`, a fixed share of the
//! current total for `current`), never more than the requested reduction plus
//! one smallest real decrement below the current rung, and always at least one
//! rung down.

use crate::input::FieldError;
use crate::item::Regimen;
use crate::ome::{convert_item, ItemConversion};
use crate::profile::Profile;
use crate::reference::Reference;
use crate::vocabulary::num;

use super::input::{check_request, OrderEntry, PlanRequest};
use super::products::{build, match_line, LineKind, Tapered};
use super::rules::{OrderClass, RangeField, ReductionOf, TaperRules};
use super::safety::{self, HoldWhy};

/// Totals closer than this are equal (mg OME a day).
pub(crate) const EPS: f64 = 1e-6;

/// Rounds to 2 decimals, as the OME report does.
pub(crate) fn round2(x: f64) -> f64 {
    let r = (x * 100.0).round() / 100.0;
    if r == 0.0 {
        0.0
    } else {
        r
    }
}

/// "mg OME a day" or, in the CDC profile, "MME a day".
pub(crate) fn per_day(profile: Profile) -> &'static str {
    match profile {
        Profile::Uk => "mg OME a day",
        Profile::Cdc => "MME a day",
    }
}

/// `s` with a capital first letter.
pub(crate) fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next().map_or_else(String::new, |f| {
        f.to_uppercase().collect::<String>() + c.as_str()
    })
}

/// An item kept exactly as entered.
#[derive(Debug, Clone)]
pub(crate) struct Held {
    /// Position in the input.
    pub index: usize,
    /// Why it is not tapered.
    pub reason: String,
    /// Its OME, if it converts (counted in every step's total).
    pub ome: Option<f64>,
    /// What to ask the prescriber (`None` for an item that cannot be converted).
    pub query: Option<String>,
    /// The catalogue line it was matched to, if any (for switch offers).
    pub line: Option<String>,
}

/// A tapered item held at the lowest dose its line can make, from a step on.
#[derive(Debug, Clone)]
pub(crate) struct LowestHold {
    /// Position in `Prepared::tapered`.
    pub tapered: usize,
    /// The question for the prescriber.
    pub query: String,
}

/// The regimen analysed for tapering.
#[derive(Debug, Clone)]
pub(crate) struct Prepared<'r> {
    /// The validated regimen.
    pub regimen: Regimen,
    /// Items the plan reduces.
    pub tapered: Vec<Tapered<'r>>,
    /// Items kept unchanged.
    pub held: Vec<Held>,
    /// Positions in `tapered`, first reduced first.
    pub order: Vec<usize>,
    /// Total before the plan (as `stepdown ome` reports it).
    pub start: f64,
    /// OME of held items that convert.
    pub held_ome: f64,
    /// Warnings so far.
    pub warnings: Vec<String>,
    /// Tapered items held at their lowest makeable dose (set by [`walk`]).
    pub lowest: Vec<LowestHold>,
}

fn class_rank(rules: &TaperRules<'_>, class: OrderClass) -> usize {
    let (classes, _) = rules.reduction_order();
    classes
        .iter()
        .position(|c| *c == class)
        .unwrap_or(classes.len())
}

/// Validates the request and analyses every item.
pub(crate) fn prepare<'r>(
    request: &PlanRequest,
    reference: &'r Reference,
) -> Result<Prepared<'r>, Vec<FieldError>> {
    let profile = request.profile;
    let rules = TaperRules::of(reference);
    let regimen = Regimen::validate(&request.items, "items", profile, reference)?;
    let mut errors = check_request(request, reference);
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut warnings = Vec::new();
    let mut tapered = Vec::new();
    let mut held = Vec::new();
    let mut start = 0.0;
    for (i, item) in regimen.items.iter().enumerate() {
        let label = format!("items[{i}] ({})", item.drug);
        let c = convert_item(item, profile, reference);
        match &c.conversion {
            ItemConversion::NotConvertible { reason, .. } => held.push(Held {
                index: i,
                reason: format!(
                    "{reason} Stepdown does not taper what it cannot convert and never guesses a dose: keep it unchanged and seek specialist advice before changing it."
                ),
                ome: None,
                query: None,
                line: None,
            }),
            ItemConversion::Converted { factor, ome, .. } => {
                start += ome.get();
                let result = match match_line(item, reference, &label, &mut warnings) {
                    Ok(line) => {
                        let id = line.row.id.clone();
                        build(i, item, line, *factor, rules.dose_time_order().0).map_err(|h| (h, Some(id)))
                    }
                    Err(h) => Err((h, None)),
                };
                match result {
                    Ok(t) => tapered.push(t),
                    Err((HoldWhy { reason, query }, line)) => held.push(Held {
                        line,
                        index: i,
                        reason: format!(
                            "{}. It is kept exactly at the current dose in every step.",
                            capitalise(&reason)
                        ),
                        ome: Some(ome.get()),
                        query: Some(query),
                    }),
                }
            }
        }
    }
    for h in &held {
        let drug = &regimen.items[h.index].drug;
        warnings.push(format!(
            "items[{}] ({drug}): held at the current dose, not tapered. {}{}",
            h.index,
            h.reason,
            h.query
                .as_deref()
                .map_or_else(String::new, |q| format!(" {q}"))
        ));
    }
    let start = round2(start);
    let held_ome: f64 = held.iter().filter_map(|h| h.ome).sum();
    // A regimen of held items is still planned (step 1 as it is, with the
    // questions for the prescriber) when one of them converts; one where
    // nothing converts has no plan to show.
    if tapered.is_empty() && held.iter().all(|h| h.ome.is_none()) {
        let why: Vec<String> = held
            .iter()
            .map(|h| {
                format!(
                    "items[{}] ({}): {}",
                    h.index, regimen.items[h.index].drug, h.reason
                )
            })
            .collect();
        return Err(vec![FieldError::new(
            "items",
            format!("nothing here can be tapered by Stepdown. {}", why.join(" ")),
        )]);
    }
    let target = request.taper.target_ome_mg_per_day;
    if target + EPS >= start {
        errors.push(FieldError::new(
            "taper.target_ome_mg_per_day",
            format!(
                "must be below the starting total of {} {} (got {}); nothing would be reduced",
                num(start),
                per_day(profile),
                num(target)
            ),
        ));
    }

    // Reduction order: the clinician's entries first, then the default classes.
    let mut order: Vec<usize> = Vec::new();
    let mut in_order = vec![false; tapered.len()];
    let mut tapered_at: rustc_hash::FxHashMap<usize, usize> = Default::default();
    for (n, t) in tapered.iter().enumerate() {
        tapered_at.entry(t.index).or_insert(n);
    }
    let by_default = |a: &usize, b: &usize| {
        let (x, y) = (&tapered[*a], &tapered[*b]);
        (class_rank(&rules, x.class), x.index).cmp(&(class_rank(&rules, y.class), y.index))
    };
    for (n, entry) in request.taper.order.iter().enumerate() {
        let path = format!("taper.order[{n}]");
        let mut named: Vec<usize> = match entry {
            OrderEntry::Item(i) => tapered_at
                .get(&(*i as usize))
                .copied()
                .into_iter()
                .collect(),
            OrderEntry::Drug(d) => (0..tapered.len())
                .filter(|t| tapered[*t].item.drug.as_str() == d)
                .collect(),
        };
        if named.is_empty() {
            let reason = held
                .iter()
                .find(|h| match entry {
                    OrderEntry::Item(i) => h.index == *i as usize,
                    OrderEntry::Drug(d) => regimen.items[h.index].drug.as_str() == d,
                })
                .map_or_else(String::new, |h| format!(": {}", h.reason));
            errors.push(FieldError::new(
                path,
                format!("that item is held unchanged, so it cannot be put in the reduction order{reason}"),
            ));
            continue;
        }
        named.sort_by(by_default);
        for t in named {
            // Marked, not searched: a drug's name can list every item.
            if let Some(seen @ false) = in_order.get_mut(t) {
                *seen = true;
                order.push(t);
            }
        }
    }
    let mut rest: Vec<usize> = (0..tapered.len()).filter(|t| !in_order[*t]).collect();
    rest.sort_by(by_default);
    order.extend(rest);

    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Prepared {
        regimen,
        tapered,
        held,
        order,
        start,
        held_ome,
        warnings,
        lowest: Vec::new(),
    })
}

/// One step of the walk, before pauses are added and doses rendered.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WalkStep {
    /// Rung of each tapered item (indexed like `Prepared::tapered`).
    pub levels: Vec<usize>,
    /// Length in days.
    pub days: u32,
    /// Reduction asked for at this step.
    pub requested: Option<f64>,
    /// Smallest real reduction available at this step.
    pub smallest: Option<f64>,
    /// Notes for the step.
    pub notes: Vec<String>,
}

/// The combined ladder: rung `p` is (position in the order, that item's level);
/// rung 0 is every item at its starting level.
struct Ladder {
    rungs: Vec<(usize, usize)>,
    totals: Vec<f64>,
}

impl Ladder {
    fn new(p: &Prepared<'_>) -> Ladder {
        let mut rungs = vec![(0, 0)];
        for (op, &t) in p.order.iter().enumerate() {
            for l in 1..p.tapered[t].levels.len() {
                rungs.push((op, l));
            }
        }
        let first: f64 = p.tapered.iter().map(|t| t.ome[0]).sum();
        let mut totals = Vec::with_capacity(rungs.len());
        // Items before the one being reduced are at their last (zero) rung.
        let mut done = 0.0;
        let mut current_op = 0;
        for &(op, l) in &rungs {
            while current_op < op {
                let t = &p.tapered[p.order[current_op]];
                done += t.ome[0] - t.ome[t.ome.len() - 1];
                current_op += 1;
            }
            let t = &p.tapered[p.order[op]];
            totals.push(p.held_ome + first - done - (t.ome[0] - t.ome[l]));
        }
        Ladder { rungs, totals }
    }

    fn levels(&self, p: &Prepared<'_>, pos: usize) -> Vec<usize> {
        let mut levels = vec![0; p.tapered.len()];
        let (op, l) = self.rungs[pos];
        for (i, &t) in p.order.iter().enumerate() {
            levels[t] = match i.cmp(&op) {
                std::cmp::Ordering::Less => p.tapered[t].levels.len() - 1,
                std::cmp::Ordering::Equal => l,
                std::cmp::Ordering::Greater => 0,
            };
        }
        levels
    }
}

fn ceil_days(x: f64) -> u32 {
    // Rounding noise (28 x 0.8 / 0.64 = 35.000000000000004) is not a day more.
    let c = (x - 1e-9).ceil();
    if c.is_finite() && c >= 1.0 && c < f64::from(u32::MAX) {
        // Whole and in range, checked just above.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let n = c as u32;
        n
    } else {
        1
    }
}

/// The note on step 1.
pub(crate) const START_NOTE: &str =
    "Step 1 is the current regimen, exactly as taken now: the first reduction comes at step 2.";

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Rounds a step's length to whole patch changes when any tapered patch is
/// worn in it (so no patch is wasted and change days do not drift): up to the
/// next multiple of the change cycle, or down if that passes `cap` (never
/// below one cycle).
fn fit_patches(p: &Prepared<'_>, levels: &[usize], days: u32, cap: f64) -> u32 {
    let cycle = p
        .tapered
        .iter()
        .zip(levels)
        .filter(|(t, l)| t.line.kind == LineKind::Patch && !t.levels[**l].is_zero())
        .filter_map(|(t, _)| super::products::patch_cycle_days(t.line.row))
        // Two patches with different wear times change together every lcm days.
        .reduce(|a, b| a / gcd(a, b) * b);
    let Some(cycle) = cycle.filter(|c| *c > 0) else {
        return days;
    };
    let up = days.div_ceil(cycle) * cycle;
    if f64::from(up) <= cap.max(f64::from(cycle)) {
        up
    } else {
        ((days / cycle).max(1)) * cycle
    }
}

/// Walks down the combined ladder: step 1 at the current regimen, then one
/// step per interval under the safety rule ([`safety`]).
pub(crate) fn walk(
    p: &mut Prepared<'_>,
    request: &PlanRequest,
    reference: &Reference,
) -> Result<Vec<WalkStep>, Vec<FieldError>> {
    let rules = TaperRules::of(reference);
    let opts = &request.taper;
    let unit = per_day(request.profile);
    let start = p.start;
    let pct = opts.reduction_percent / 100.0;
    let target = opts.target_ome_mg_per_day;
    let interval = f64::from(opts.interval_days);
    let cap = rules.range(RangeField::IntervalDays).max.max(interval);
    let (third, multiplier, _) = rules.slow_last_third();
    let max_steps = rules.range(RangeField::Steps).max;

    let start_levels = vec![0; p.tapered.len()];
    let mut steps: Vec<WalkStep> = vec![WalkStep {
        days: fit_patches(p, &start_levels, opts.interval_days, cap),
        levels: start_levels,
        requested: None,
        smallest: None,
        notes: vec![START_NOTE.to_string()],
    }];
    if p.tapered.is_empty() {
        return Ok(steps);
    }
    let mut ladder = Ladder::new(p);
    let mut cur = 0;
    let mut c = start;
    let mut big: Vec<BigDecrement> = Vec::new();
    loop {
        let last = ladder.totals.len() - 1;
        if c <= target + EPS || cur >= last {
            break;
        }
        if steps.len() as f64 >= max_steps {
            return Err(vec![FieldError::new(
                "taper.reduction_percent",
                format!(
                    "the plan would need more than {} steps; choose a larger reduction or reduce a share of the original total",
                    num(max_steps)
                ),
            )]);
        }
        let requested = match opts.of {
            ReductionOf::Original => pct * start,
            ReductionOf::Current => pct * c,
        };
        let first = cur + 1;
        let smallest = c - ladder.totals[first];
        let (op, l) = ladder.rungs[first];
        let item = p.order[op];
        // Whether stopping an item is too big a cut is judged against the
        // share of the *starting* total: a share of the current total shrinks
        // towards nothing at the end of a taper, and would hold every item.
        let hold_request = pct * start;
        if smallest > requested + EPS
            && p.tapered[item].levels[l].is_zero()
            && safety::must_hold_at_lowest(interval, smallest, hold_request, cap)
        {
            // The lowest strength of the line: hold the item where it is.
            let t = &mut p.tapered[item];
            let dose = match t.line.kind {
                LineKind::Patch => format!(
                    "{} micrograms/hour",
                    num(super::products::from_fixed(t.daily(&t.levels[l - 1])))
                ),
                _ => format!(
                    "{} mg a day",
                    num(super::products::from_fixed(t.daily(&t.levels[l - 1])))
                ),
            };
            let query = safety::query_lowest(
                t.line.box_name,
                &dose,
                round2(smallest),
                round2(hold_request),
                unit,
            );
            t.levels.truncate(l);
            t.ome.truncate(l);
            p.lowest.push(LowestHold {
                tapered: item,
                query,
            });
            ladder = Ladder::new(p);
            continue;
        }
        let chosen = safety::choose(&ladder.totals, cur, requested, target);
        let new = ladder.totals[chosen];
        let drop = c - new;
        let levels = ladder.levels(p, chosen);
        let all_zero = p
            .tapered
            .iter()
            .zip(&levels)
            .all(|(t, l)| t.levels[*l].is_zero());
        let reached = new <= target + EPS || chosen == ladder.totals.len() - 1;
        let is_stop = all_zero && reached;
        let mut notes = Vec::new();
        let mut days = interval;
        if drop > requested + EPS {
            match big.iter_mut().find(|b| b.item == item) {
                Some(b) => {
                    b.min = b.min.min(drop);
                    b.max = b.max.max(drop);
                    b.requested = b.requested.min(requested);
                }
                None => big.push(BigDecrement {
                    item,
                    step: steps.len() + 1,
                    min: drop,
                    max: drop,
                    requested,
                }),
            }
            if opts.lengthen_interval {
                let longer = safety::lengthened_days(interval, drop, requested, cap);
                let note = format!(
                    "Longer step: the smallest real reduction ({} {unit}) is more than the {} {unit} asked for.",
                    num(round2(drop)),
                    num(round2(requested))
                );
                if is_stop {
                    // The stop day cannot be longer: the last dose before it is kept longer.
                    if let Some(prev) = steps.last_mut() {
                        let d = ceil_days(longer.min(cap));
                        if d > prev.days {
                            prev.days = fit_patches(p, &prev.levels, d, cap);
                            prev.notes.push(note);
                        }
                    }
                } else {
                    days = longer;
                    notes.push(note);
                }
            }
        }
        if opts.slow_last_third && new <= start * third + EPS && !is_stop {
            days *= multiplier;
            notes.push("Slower last third: this step is longer.".to_string());
        }
        let days = if is_stop {
            // The stop step marks the day the medicines stop.
            1
        } else {
            fit_patches(p, &levels, ceil_days(days.min(cap)), cap)
        };
        if reached && !all_zero {
            notes.push(format!(
                "Target reached: stay on this dose ({} {unit}) until the next review.",
                num(round2(new))
            ));
        }
        steps.push(WalkStep {
            levels,
            days,
            requested: Some(round2(requested)),
            smallest: Some(round2(smallest)),
            notes,
        });
        cur = chosen;
        c = new;
    }
    for b in big {
        let t = &p.tapered[b.item];
        let what = match opts.of {
            ReductionOf::Original => {
                format!("{}% of the starting total", num(opts.reduction_percent))
            }
            ReductionOf::Current => {
                format!("{}% of the current total", num(opts.reduction_percent))
            }
        };
        let then = if opts.lengthen_interval {
            "those steps are lengthened in proportion (up to the longest step allowed), and the plan's label gives the actual average rate"
        } else {
            "those steps keep the interval, so they are faster than asked (lengthening was turned off)"
        };
        let range = if b.max - b.min > EPS {
            format!("{} to {}", num(round2(b.min)), num(round2(b.max)))
        } else {
            num(round2(b.min))
        };
        p.warnings.push(format!(
            "From step {}, items[{}] ({}): the smallest real reduction of {} is {range} {unit}, more than the {} {unit} asked for ({what}); {then}.",
            b.step,
            t.index,
            t.item.drug,
            t.line.box_name,
            num(round2(b.requested)),
        ));
    }
    for h in &p.lowest {
        let t = &p.tapered[h.tapered];
        p.warnings.push(format!(
            "items[{}] ({}): held at its lowest makeable dose, not stopped. {}",
            t.index, t.item.drug, h.query
        ));
    }
    Ok(steps)
}

/// An item whose smallest real reduction was bigger than asked, for one warning.
struct BigDecrement {
    item: usize,
    step: usize,
    min: f64,
    max: f64,
    requested: f64,
}

/// Inserts the requested pauses (numbered against the steps without pauses).
pub(crate) fn add_pauses(
    steps: Vec<WalkStep>,
    request: &PlanRequest,
    p: &Prepared<'_>,
    reference: &Reference,
) -> Result<Vec<WalkStep>, Vec<FieldError>> {
    let cap = TaperRules::of(reference)
        .range(RangeField::PauseDays)
        .max
        .max(f64::from(request.taper.interval_days));
    let n = steps.len();
    let mut errors = Vec::new();
    for (i, pause) in request.pauses.iter().enumerate() {
        let after = pause.after_step as usize;
        if after == 0 || after >= n {
            let allowed = if n <= 1 {
                "the plan has 1 step, so there is no step to pause after".to_string()
            } else {
                format!(
                    "the plan has {n} steps, so a pause can follow steps 1 to {}",
                    n - 1
                )
            };
            errors.push(FieldError::new(
                format!("pauses[{i}].after_step"),
                format!("{allowed} (got {after})"),
            ));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut out = Vec::with_capacity(n + request.pauses.len());
    for (i, step) in steps.into_iter().enumerate() {
        let levels = step.levels.clone();
        out.push(step);
        if let Some(pause) = request
            .pauses
            .iter()
            .find(|p| p.after_step as usize == i + 1)
        {
            let days = fit_patches(p, &levels, pause.days, cap);
            out.push(WalkStep {
                levels,
                days,
                requested: None,
                smallest: None,
                notes: vec![format!("Pause: the dose stays the same for {days} days.")],
            });
        }
    }
    Ok(out)
}
