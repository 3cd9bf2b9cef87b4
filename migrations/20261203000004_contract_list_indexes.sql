-- The contract list sorts and filters a book of a million contracts: each sortable column with the
-- id (the keyset's tie-breaker) lets a page be read in order instead of sorting the whole book.
CREATE INDEX contracts_dpd ON contracts (dpd, id);
CREATE INDEX contracts_overdue ON contracts (overdue_amount, id);
CREATE INDEX contracts_start ON contracts (start_date, id);
CREATE INDEX contracts_bucket ON contracts (bucket, id);
CREATE INDEX contracts_customer ON contracts (customer_id);
