-- Case-finding (issue 16): audit markers on the worklist cache, and
-- exclusions (palliative-care register, treatment for opioid dependence).
--
-- cf_summaries.markers: a bit set of the worklist's audit markers (bit 0
-- unclear directions, 1 immediate-release only, 2 combination product,
-- 3 a large liquid issue, 4 a dependence-forming medicine co-prescribed), so
-- that the worklist can be filtered by them. The table is a cache rebuilt
-- whole, so existing rows take 0 until the next rebuild.
ALTER TABLE cf_summaries ADD COLUMN markers INTEGER NOT NULL DEFAULT 0 CHECK (markers >= 0);

-- cf_patients.excluded: why the patient is left off the worklist (counted
-- apart), from the extract's exclusion column or an exclusion list; NULL when
-- not excluded. Newest wins, like the other patient details.
ALTER TABLE cf_patients ADD COLUMN excluded TEXT CHECK (excluded IS NULL OR length(excluded) BETWEEN 1 AND 200);
