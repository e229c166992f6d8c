-- Reviews saved from inputs. From this version on, the core computes the
-- result and plan of every saved version from the inputs saved with it
-- (record format 2). Versions saved before were written with the result and
-- plan the desktop UI sent (format 1); they stay as they are, readable.
ALTER TABLE review_versions ADD COLUMN record_format INTEGER NOT NULL DEFAULT 1
    CHECK (record_format >= 1);

-- How each leaflet was rendered (patient name, practice details, dates, print
-- size), so a printed leaflet can be rendered again from its stored version
-- and its hash compared. Null for prints recorded before this.
ALTER TABLE leaflet_prints ADD COLUMN render_options TEXT
    CHECK (render_options IS NULL OR json_valid(render_options));
