-- How a collection group shares its new work among its collectors: by the number of contracts
-- each holds, or by the overdue amount each holds (big cases spread, not stacked on one person).
ALTER TABLE collection_groups
    ADD COLUMN balance text NOT NULL DEFAULT 'contracts' CHECK (balance IN ('contracts', 'amount'));
