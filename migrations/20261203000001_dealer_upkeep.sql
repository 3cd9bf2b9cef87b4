-- Dealers are kept, not only added: their particulars (credit code, contact, address), a status
-- with the reason of its last change (active, suspended, blacklisted), and a version for updates.

ALTER TABLE dealers
    ADD COLUMN credit_code       text,
    ADD COLUMN contact_name      text,
    ADD COLUMN contact_phone     text,
    ADD COLUMN address           text,
    ADD COLUMN status            text NOT NULL DEFAULT 'active'
                                 CHECK (status IN ('active', 'suspended', 'blacklisted')),
    ADD COLUMN status_reason     text,
    ADD COLUMN status_changed_at timestamptz,
    ADD COLUMN version           integer NOT NULL DEFAULT 1,
    ADD COLUMN updated_at        timestamptz NOT NULL DEFAULT now();

CREATE UNIQUE INDEX dealers_credit_code ON dealers (credit_code) WHERE credit_code IS NOT NULL;
CREATE INDEX dealers_region_status ON dealers (region_id, status);
