-- Origination details: the people around a customer (emergency contacts, guarantors, a company's
-- legal representative and contacts), dealers, vehicle particulars, and contracts created from a
-- quote and activated on disbursement.

CREATE TABLE customer_parties (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id         bigint NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    role                text NOT NULL CHECK (role IN ('emergency_contact', 'guarantor', 'legal_representative', 'contact')),
    name                text NOT NULL,
    relation            text,
    phone_sealed        bytea,
    id_number_sealed    bytea
);
CREATE INDEX customer_parties_customer ON customer_parties (customer_id);

CREATE TABLE dealers (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code        text NOT NULL UNIQUE,
    name        text NOT NULL,
    tier        text NOT NULL DEFAULT 'standard',
    region_id   bigint NOT NULL REFERENCES regions (id),
    created_at  timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE vehicles
    ADD COLUMN series text,
    ADD COLUMN engine_number text,
    ADD COLUMN vehicle_type text NOT NULL DEFAULT 'passenger';

ALTER TABLE contracts
    ADD COLUMN dealer_id bigint REFERENCES dealers (id),
    ADD COLUMN price numeric(16,2),
    ADD COLUMN down_payment numeric(16,2),
    ADD COLUMN activated_on date;
ALTER TABLE contracts ALTER COLUMN start_date DROP NOT NULL;
