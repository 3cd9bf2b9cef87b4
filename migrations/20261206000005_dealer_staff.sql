-- A dealer's staff: a user who works for a dealer sees only that dealer's records where records
-- belong to dealers (applications), beside the region scope every user has.
ALTER TABLE users ADD COLUMN dealer_id bigint REFERENCES dealers (id);
