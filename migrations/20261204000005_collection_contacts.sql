-- Every contact made about an overdue contract (电话催收登记 and the like): by whom, through which
-- channel, with which party, how it went, the collection state it left, and any promise to pay.
-- The contact rules (hours, a daily cap per party) count these rows.
CREATE TABLE collection_contacts (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    contract_id     bigint NOT NULL REFERENCES contracts (id),
    user_id         bigint NOT NULL REFERENCES users (id),
    channel         text NOT NULL CHECK (channel IN ('phone', 'sms', 'visit')),
    party           text NOT NULL CHECK (party IN ('customer', 'guarantor', 'emergency_contact', 'third_party')),
    result          text NOT NULL
                    CHECK (result IN ('connected', 'no_answer', 'switched_off', 'wrong_number', 'refused', 'third_party')),
    -- A collection state (collection_codes of kind `state`), by its code.
    state_code      text,
    note            text NOT NULL DEFAULT '',
    promise_amount  numeric(16,2) CHECK (promise_amount > 0),
    promise_date    date,
    at              timestamptz NOT NULL DEFAULT now(),
    CHECK ((promise_amount IS NULL) = (promise_date IS NULL))
);
CREATE INDEX collection_contacts_contract ON collection_contacts (contract_id, at);
