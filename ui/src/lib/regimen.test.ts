import { describe, expect, it } from "vitest";
import type { ProductChoice } from "./bindings/ProductChoice";
import { draftFromChoice, fieldsFor, localErrors, parseNumber, setByTime, timesEntered, toRawItem, usesTimes } from "./regimen";

const mst30: ProductChoice = {
  id: "morphine-mr-12h-tablet@30",
  product_id: "morphine-mr-12h-tablet",
  drug: "morphine",
  label: "Morphine 12-hourly modified-release tablets 30 mg",
  strength: "30 mg",
  form: "tablet",
  route: "oral",
  release: "modified",
  dosing_interval_hours: 12,
  wear: null,
  brands: ["MST Continus"],
  combination: null,
  item: { drug: "morphine", route: "oral", form: "tablet", release: "modified", strength_mg: 30, units_per_dose: 1, doses_per_day: 2 },
};

const fentanyl25: ProductChoice = {
  ...mst30,
  id: "fentanyl-72h-patch@25",
  drug: "fentanyl",
  form: "patch",
  route: "transdermal",
  release: null,
  wear: "every 72 hours",
  item: { drug: "fentanyl", route: "transdermal", strength_mcg_per_hour: 25, patches: 1 },
};

const oramorph: ProductChoice = {
  ...mst30,
  id: "morphine-oral-solution@2",
  label: "Morphine oral solution 10 mg/5 mL",
  strength: "10 mg/5 mL",
  form: "solution",
  release: "immediate",
  dosing_interval_hours: null,
  brands: ["Oramorph"],
  item: { drug: "morphine", route: "oral", form: "solution", release: "immediate", strength_mg_per_ml: 2 },
};

describe("regimen drafts", () => {
  it("prefills the dose from the catalogue choice", () => {
    const d = draftFromChoice(mst30);
    expect(d.text.units_per_dose).toBe("1");
    expect(d.text.doses_per_day).toBe("2");
    expect(toRawItem(d)).toEqual({ ...mst30.item, as_needed: false });
  });

  it("asks only for the fields that fit the form", () => {
    expect(fieldsFor(mst30)).toEqual(["units_per_dose", "doses_per_day"]);
    expect(fieldsFor(fentanyl25)).toEqual(["patches"]);
    expect(fieldsFor(oramorph)).toEqual(["ml_per_dose", "doses_per_day", "quantity_per_issue"]);
    expect(fieldsFor(oramorph, true)).toEqual(["quantity_per_issue"]);
  });

  it("sends the mL supplied on each prescription only when it is typed", () => {
    const d = draftFromChoice(oramorph);
    d.text.ml_per_dose = "5";
    d.text.doses_per_day = "4";
    expect(toRawItem(d).quantity_per_issue).toBeUndefined();
    d.text.quantity_per_issue = "500";
    expect(toRawItem(d).quantity_per_issue).toBe(500);
    d.text.quantity_per_issue = "lots";
    expect(localErrors([d])).toEqual({ "items[0].quantity_per_issue": 'Enter a number, like 1 or 2.5 (got "lots")' });
  });

  it("keeps what was typed and flags text that is not a number, with its field path", () => {
    const d = draftFromChoice(mst30);
    d.text.doses_per_day = "two";
    expect(localErrors([d])).toEqual({ "items[0].doses_per_day": 'Enter a number, like 1 or 2.5 (got "two")' });
    expect(d.text.doses_per_day).toBe("two");
  });

  it("sends blank as missing so the core names the field", () => {
    const d = draftFromChoice(mst30);
    d.text.doses_per_day = " ";
    expect(toRawItem(d).doses_per_day).toBeUndefined();
  });

  it("sends negative numbers for the core to reject with a reason", () => {
    const d = draftFromChoice(mst30);
    d.text.units_per_dose = "-1";
    expect(localErrors([d])).toEqual({});
    expect(toRawItem(d).units_per_dose).toBe(-1);
  });

  it("parses only plain decimals", () => {
    expect(parseNumber("2.5")).toBe(2.5);
    expect(parseNumber("1e3")).toBeNaN();
    expect(parseNumber("")).toBeUndefined();
  });

  it("never marks a patch as needed", () => {
    const d = draftFromChoice(fentanyl25);
    d.asNeeded = true;
    expect(toRawItem(d).as_needed).toBeUndefined();
  });
});

describe("doses by time of day", () => {
  it("prefills the usual times from the equal doses and sends one entry per time", () => {
    const d = draftFromChoice(mst30);
    setByTime(d, true);
    expect(d.timeText.morning).toBe("1");
    expect(d.timeText.evening).toBe("1");
    d.timeText.evening = "2";
    expect(toRawItem(d)).toEqual({
      drug: "morphine",
      route: "oral",
      form: "tablet",
      release: "modified",
      strength_mg: 30,
      as_needed: false,
      doses: [
        { time: "morning", units: 1 },
        { time: "evening", units: 2 },
      ],
    });
  });

  it("names a per-time slip by the entry the core will see", () => {
    const d = draftFromChoice(mst30);
    setByTime(d, true);
    d.timeText.morning = "";
    d.timeText.night = "two";
    expect(localErrors([d])).toEqual({ "items[0].doses[1].units": 'Enter a number, like 1 or 2.5 (got "two")' });
  });

  it("reads a saved item's doses back and never sends them for a when-needed item", () => {
    const d = draftFromChoice({ ...mst30, item: { ...mst30.item, units_per_dose: undefined, doses_per_day: undefined, doses: [{ time: "night", units: 2 }, { time: "morning", units: 1 }] } });
    expect(d.byTime).toBe(true);
    expect(timesEntered(d)).toEqual(["morning", "night"]);
    d.asNeeded = true;
    expect(toRawItem(d).doses).toBeUndefined();
    expect(fieldsFor(d.choice, usesTimes(d))).toEqual(["units_per_dose", "doses_per_day"]);
  });
});
