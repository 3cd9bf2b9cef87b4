-- The company's blacklist of people (黑名单): known fraudsters, people who disappeared with a car,
-- identity thieves. An application whose applicant, co-applicant or guarantor is on it is refused
-- on submit. Numbers are sealed; their blind indexes find the hits. Entries are lifted, not deleted.
CREATE TABLE blacklist (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                text NOT NULL,
    id_number_sealed    bytea,
    id_number_index     bytea,
    phone_sealed        bytea,
    phone_index         bytea,
    reason              text NOT NULL,
    status              text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'lifted')),
    added_by            bigint REFERENCES users (id),
    added_at            timestamptz NOT NULL DEFAULT now(),
    lifted_by           bigint REFERENCES users (id),
    lifted_at           timestamptz,
    lift_reason         text,
    version             integer NOT NULL DEFAULT 1,
    CHECK (id_number_index IS NOT NULL OR phone_index IS NOT NULL)
);
CREATE INDEX blacklist_id_number ON blacklist (id_number_index) WHERE status = 'active';
CREATE INDEX blacklist_phone ON blacklist (phone_index) WHERE status = 'active';
