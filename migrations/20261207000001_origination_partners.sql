-- The rest of a lease's birth: external checks on submit (征信 and three-factor identity), the
-- guarantee insurer's pre-approval and policy (人保投保), the contract rendered from its template and
-- signed electronically, the lien on the vehicle, and after disbursement the documents due
-- (贷后审核) and the archive (贷后归档). Contracts say where they came from: an application's are
-- activated only by its disbursement; a book imported from an earlier system is marked so.

-- What the credit bureau and the identity check answered, kept with the application.
CREATE TABLE application_checks (
    application_id  bigint NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    kind            text NOT NULL CHECK (kind IN ('credit_bureau', 'identity')),
    -- done: answered; skipped: not asked (why in detail); failed: the partner could not answer.
    status          text NOT NULL CHECK (status IN ('done', 'skipped', 'failed')),
    result          jsonb NOT NULL DEFAULT '{}',
    detail          text NOT NULL DEFAULT '',
    checked_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (application_id, kind)
);

-- The guarantee insurance of an application: pre-approval, then the policy.
CREATE TABLE guarantee_policies (
    application_id  bigint PRIMARY KEY REFERENCES applications (id) ON DELETE CASCADE,
    status          text NOT NULL CHECK (status IN ('pre_approval_pending', 'pre_approved', 'declined',
                                                    'policy_pending', 'issued', 'archived')),
    -- The insurer's reference of the request in flight, how its answer is matched.
    reference       text NOT NULL UNIQUE,
    premium         numeric(14,2),
    policy_number   text,
    period_start    date,
    period_end      date,
    decline_reason  text,
    requested_at    timestamptz NOT NULL DEFAULT now(),
    answered_at     timestamptz
);

-- Contract templates (合同模板), versioned per lease type and, when set, product code.
CREATE TABLE contract_templates (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    lease_type      text NOT NULL CHECK (lease_type IN ('direct', 'sale_leaseback', 'vendor', 'operating')),
    product_code    text,
    version         integer NOT NULL,
    title           text NOT NULL,
    body            text NOT NULL,
    created_by      bigint REFERENCES users (id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE NULLS NOT DISTINCT (lease_type, product_code, version)
);

-- The contract document sent for electronic signature and how its signing stands.
CREATE TABLE contract_signatures (
    application_id  bigint PRIMARY KEY REFERENCES applications (id) ON DELETE CASCADE,
    template_id     bigint NOT NULL REFERENCES contract_templates (id),
    document        bytea NOT NULL REFERENCES attachments (sha256),
    envelope        text NOT NULL UNIQUE,
    status          text NOT NULL CHECK (status IN ('sent', 'signed', 'declined')),
    sent_at         timestamptz NOT NULL DEFAULT now(),
    signed_at       timestamptz
);

-- The lien (抵押登记) on the financed vehicle, registered at the vehicle administration.
CREATE TABLE contract_liens (
    contract_id     bigint PRIMARY KEY REFERENCES contracts (id),
    registration    text NOT NULL,
    registered_on   date NOT NULL,
    office          text NOT NULL,
    recorded_by     bigint REFERENCES users (id),
    recorded_at     timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE applications DROP CONSTRAINT applications_status_check;
ALTER TABLE applications ADD CONSTRAINT applications_status_check
    CHECK (status IN ('draft', 'submitted', 'returned', 'approved', 'rejected', 'withdrawn', 'contracted',
                      'disbursement_pending', 'disbursed', 'documents_complete', 'archived'));
-- After disbursement: the day the money went out, and the day its documents are due by.
ALTER TABLE applications ADD COLUMN disbursed_on date, ADD COLUMN documents_due date;

ALTER TABLE application_documents DROP CONSTRAINT application_documents_kind_check;
ALTER TABLE application_documents ADD CONSTRAINT application_documents_kind_check
    CHECK (kind IN ('id_card', 'licence', 'bank_statement', 'vehicle_photo', 'credit_authorization', 'other',
                    'registration_certificate', 'invoice', 'vehicle_insurance'));

-- Where a contract came from: an application of this system, or a book imported from an earlier one.
ALTER TABLE contracts ADD COLUMN origin text NOT NULL DEFAULT 'imported'
    CHECK (origin IN ('imported', 'application'));
