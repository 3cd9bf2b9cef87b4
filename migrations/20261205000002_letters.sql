-- Default-notice letters (催收违约通知函): templates versioned per stage (the bucket a letter is for,
-- the highest not above the contract's); a change is a new version, the old one kept for the
-- letters sent with it. Each generated letter is kept with the version, the figures and the PDF's hash.
CREATE TABLE letter_templates (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stage          integer NOT NULL CHECK (stage BETWEEN 1 AND 12),
    version        integer NOT NULL,
    title          text NOT NULL,
    -- With {customer_name}, {contract_number}, {plate}, {arrears}, {dpd}, {deadline}, {date}.
    body           text NOT NULL,
    -- The deadline the letter gives: this many days after it is generated.
    deadline_days  integer NOT NULL CHECK (deadline_days BETWEEN 1 AND 90),
    created_by     bigint REFERENCES users (id),
    created_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (stage, version)
);

CREATE TABLE letters (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    contract_id   bigint NOT NULL REFERENCES contracts (id),
    template_id   bigint NOT NULL REFERENCES letter_templates (id),
    arrears       numeric(16,2) NOT NULL,
    deadline      date NOT NULL,
    sha256        bytea NOT NULL,
    generated_by  bigint REFERENCES users (id),
    generated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX letters_contract ON letters (contract_id, id);
