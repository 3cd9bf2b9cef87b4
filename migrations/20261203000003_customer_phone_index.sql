-- Customers found by phone without storing the number in the clear: a keyed digest of its digits
-- (the blind index, as for ID numbers). Rows sealed before this are indexed when the daemon starts.
ALTER TABLE customers ADD COLUMN phone_index bytea;
CREATE INDEX customers_phone_index ON customers (phone_index) WHERE phone_index IS NOT NULL;
