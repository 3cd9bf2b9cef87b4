-- Applications (申请填报): how a lease is born. A dealer's staff file one for an individual or a
-- company, with the people around the applicant, the vehicle, the product version quoted and the
-- documents; a draft is saved as it is typed, and only a submitted application is checked whole.
CREATE SEQUENCE application_numbers;

CREATE TABLE applications (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    number              text NOT NULL UNIQUE,
    status              text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'submitted', 'withdrawn')),
    -- The region whose staff see it: the dealer's, else the filer's.
    region_id           bigint NOT NULL REFERENCES regions (id),
    dealer_id           bigint REFERENCES dealers (id),
    lease_type          text NOT NULL DEFAULT 'sale_leaseback'
                        CHECK (lease_type IN ('direct', 'sale_leaseback', 'vendor', 'operating')),
    applicant_kind      text NOT NULL DEFAULT 'individual' CHECK (applicant_kind IN ('individual', 'company')),
    applicant_name      text NOT NULL DEFAULT '',
    -- National ID or unified social credit code, sealed; its blind index finds other applications.
    id_number_sealed    bytea,
    id_number_index     bytea,
    phone_sealed        bytea,
    phone_index         bytea,
    bank_card_sealed    bytea,
    address             text NOT NULL DEFAULT '',
    employer            text NOT NULL DEFAULT '',
    monthly_income      numeric(14,2),
    -- The vehicle: new or used, brand, model, VIN, price.
    vehicle_condition   text NOT NULL DEFAULT 'new' CHECK (vehicle_condition IN ('new', 'used')),
    vehicle_brand       text NOT NULL DEFAULT '',
    vehicle_model       text NOT NULL DEFAULT '',
    vin                 text,
    vehicle_type        text NOT NULL DEFAULT 'passenger',
    -- The quote: the product version it was made on, and what was asked.
    product_id          bigint REFERENCES products (id),
    price               numeric(16,2),
    down_payment        numeric(16,2),
    term                integer,
    -- What the quote came to on submit (principal, rate, installment...).
    quote               jsonb,
    -- The duplicate and fraud checks' findings on submit, kept for the review and the scorecard.
    findings            jsonb NOT NULL DEFAULT '{}',
    created_by          bigint REFERENCES users (id),
    submitted_at        timestamptz,
    version             integer NOT NULL DEFAULT 1,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX applications_id_number ON applications (id_number_index) WHERE status <> 'withdrawn';
CREATE INDEX applications_phone ON applications (phone_index) WHERE status <> 'withdrawn';
CREATE INDEX applications_vin ON applications (vin) WHERE status <> 'withdrawn';
CREATE INDEX applications_region_status ON applications (region_id, status, id);

-- The people around an applicant: co-applicants, guarantors, emergency contacts.
CREATE TABLE application_parties (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    application_id      bigint NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    role                text NOT NULL CHECK (role IN ('co_applicant', 'guarantor', 'emergency_contact')),
    name                text NOT NULL,
    relation            text NOT NULL DEFAULT '',
    id_number_sealed    bytea,
    phone_sealed        bytea,
    phone_index         bytea,
    monthly_income      numeric(14,2)
);
CREATE INDEX application_parties_application ON application_parties (application_id);

-- The documents filed with an application, each a stored attachment of a kind.
CREATE TABLE application_documents (
    application_id      bigint NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    kind                text NOT NULL CHECK (kind IN ('id_card', 'licence', 'bank_statement', 'vehicle_photo',
                                                      'credit_authorization', 'other')),
    sha256              bytea NOT NULL REFERENCES attachments (sha256),
    added_by            bigint REFERENCES users (id),
    added_at            timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (application_id, kind, sha256)
);
