-- What was agreed with the patient at a review (NICE NG215 shared decision:
-- goals, agreement to the plan, support person, review schedule), as JSON.
-- NULL for versions saved before it was recorded, or when nothing was.
ALTER TABLE review_versions ADD COLUMN shared_decision TEXT
    CHECK (shared_decision IS NULL OR (json_valid(shared_decision) AND json_type(shared_decision) = 'object'));
