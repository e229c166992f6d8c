-- Case-finding imports in batches (issue 16). A large extract is stored in
-- many short transactions, so that other writers (the desktop app's saves)
-- wait for one batch at most, never for the whole import. Rows of an import
-- that has not finished are in the tables but not visible: everything that
-- reads issues reads only those of published imports, and the import is
-- published, with the new worklist cache, in one short transaction at the
-- end. An import that was stopped part-way (killed, power lost) is removed
-- by the next import.
--
-- published: 1 once the import is finished and visible (every import before
-- this migration was).
ALTER TABLE cf_imports ADD COLUMN published INTEGER NOT NULL DEFAULT 1 CHECK (published IN (0, 1));
-- When an unfinished import last stored a batch (RFC 3339): one that has
-- stopped for long is taken to have been stopped, and removed.
ALTER TABLE cf_imports ADD COLUMN heartbeat TEXT;
-- The first patient and text ids the import created (everything it added
-- to those tables has an id at or above them), so a stopped import's rows
-- can be removed.
ALTER TABLE cf_imports ADD COLUMN first_patient_id INTEGER;
ALTER TABLE cf_imports ADD COLUMN first_text_id INTEGER;
