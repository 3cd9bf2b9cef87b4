-- The customer's own time zone (an IANA name PostgreSQL knows, e.g. Asia/Urumqi): the contact
-- rules' allowed hours and daily cap are counted in it. None: the company's time zone.
ALTER TABLE customers ADD COLUMN time_zone text;
