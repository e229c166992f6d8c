-- Follow-up reviews (issue 18): a later look at a review's current version.
-- Append-only like review versions: a follow-up is never rewritten; a
-- correction is a new follow-up. A re-plan adds a version to the review and
-- names it here (replan_version).
CREATE TABLE follow_ups (
    id                     INTEGER PRIMARY KEY,
    review_id              INTEGER NOT NULL REFERENCES reviews (id) ON DELETE CASCADE,
    -- The version followed up (the current one when saved).
    review_version         INTEGER NOT NULL CHECK (review_version >= 1),
    saved_at               TEXT NOT NULL,
    -- The day of the follow-up (ISO date).
    follow_up_date         TEXT NOT NULL CHECK (date(follow_up_date) IS follow_up_date),
    reviewer               TEXT NOT NULL CHECK (length(trim(reviewer)) > 0),
    status                 TEXT NOT NULL CHECK (status IN ('on-plan', 'different-dose', 'stopped')),
    current_ome_mg_per_day REAL NOT NULL CHECK (current_ome_mg_per_day >= 0),
    ome_complete           INTEGER NOT NULL CHECK (ome_complete IN (0, 1)),
    decision               TEXT NOT NULL
                           CHECK (decision IN ('continue', 'pause', 'slow-down', 'replan', 'end-plan')),
    next_review            TEXT CHECK (next_review IS NULL OR date(next_review) IS next_review),
    -- The version a re-plan saved (null otherwise).
    replan_version         INTEGER CHECK (replan_version IS NULL OR replan_version > review_version),
    -- The whole record (entry, expected position, scores) as JSON.
    record                 TEXT NOT NULL CHECK (json_valid(record) AND json_type(record) = 'object'),
    FOREIGN KEY (review_id, review_version) REFERENCES review_versions (review_id, version)
) STRICT;

CREATE INDEX follow_ups_review ON follow_ups (review_id, follow_up_date);

CREATE TRIGGER follow_ups_no_update BEFORE UPDATE ON follow_ups
BEGIN
    SELECT RAISE(ABORT, 'follow-ups are append-only: save a new follow-up instead');
END;

-- Follow-ups go only with their whole review.
CREATE TRIGGER follow_ups_no_delete BEFORE DELETE ON follow_ups
WHEN EXISTS (SELECT 1 FROM reviews WHERE id = OLD.review_id)
BEGIN
    SELECT RAISE(ABORT, 'a follow-up cannot be deleted; delete the whole review');
END;
