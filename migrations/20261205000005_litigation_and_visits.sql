-- Litigation (诉讼管理): applied for through the workflow, registered with the court's case, its
-- stages dated, its fees charged through post-loan charges, what it recovered, closed on review.
CREATE TABLE litigation_cases (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    contract_id       bigint NOT NULL REFERENCES contracts (id),
    region_id         bigint NOT NULL REFERENCES regions (id),
    status            text NOT NULL DEFAULT 'applied'
                      CHECK (status IN ('applied', 'approved', 'rejected', 'registered', 'filed', 'hearing', 'judgment',
                                        'enforcement', 'closing', 'closed')),
    reason            text NOT NULL,
    claim_amount      numeric(16,2) NOT NULL CHECK (claim_amount > 0),
    court             text,
    case_number       text,
    lawyer            text,
    filed_on          date,
    hearing_on        date,
    judgment_on       date,
    enforcement_on    date,
    closed_on         date,
    recovered_amount  numeric(16,2) NOT NULL DEFAULT 0 CHECK (recovered_amount >= 0),
    closing_note      text,
    requested_by      bigint REFERENCES users (id),
    created_at        timestamptz NOT NULL DEFAULT now(),
    version           integer NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX litigation_cases_one_open ON litigation_cases (contract_id) WHERE status NOT IN ('rejected', 'closed');
CREATE INDEX litigation_cases_region ON litigation_cases (region_id, id);

-- Home visits (家访管理): a collector's request, approved through the workflow, dispatched to a field
-- agent with the addresses to visit (the customer's, and the vehicle's resident places), the result
-- registered with the agent's check-in position and photos; a check-in far from every listed place
-- is flagged for the reviewer.
CREATE TABLE home_visits (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    contract_id     bigint NOT NULL REFERENCES contracts (id),
    region_id       bigint NOT NULL REFERENCES regions (id),
    status          text NOT NULL DEFAULT 'requested'
                    CHECK (status IN ('requested', 'approved', 'rejected', 'dispatched', 'registered', 'reviewed')),
    reason          text NOT NULL,
    requested_by    bigint REFERENCES users (id),
    agent_id        bigint REFERENCES users (id),
    -- [{label, address, latitude, longitude, hours}]
    addresses       jsonb NOT NULL DEFAULT '[]',
    result          text,
    met             text CHECK (met IN ('customer', 'family', 'nobody', 'moved')),
    check_in_latitude   double precision,
    check_in_longitude  double precision,
    check_in_at     timestamptz,
    -- Metres from the check-in to the nearest listed place with a position.
    distance_m      integer,
    far             boolean,
    photos          bytea[] NOT NULL DEFAULT '{}',
    reviewed_by     bigint REFERENCES users (id),
    review_note     text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    version         integer NOT NULL DEFAULT 1
);
CREATE INDEX home_visits_region ON home_visits (region_id, id);
CREATE INDEX home_visits_contract ON home_visits (contract_id, id);
