-- Partial prepayments (部分提前还款): asked for with the new schedule shown, carried out when a second
-- person approves (workflow `partial_prepayment`) and the customer's money is in.
CREATE TABLE prepayment_requests (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    contract_id   bigint NOT NULL REFERENCES contracts (id),
    date          date NOT NULL,
    amount        numeric(16,2) NOT NULL CHECK (amount > 0),
    mode          text NOT NULL CHECK (mode IN ('lower_installment', 'shorten_term')),
    -- The plan as shown when asked: what is paid now and the new schedule.
    plan          jsonb NOT NULL,
    status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'applied', 'rejected')),
    reason        text NOT NULL,
    requested_by  bigint REFERENCES users (id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    decided_at    timestamptz
);
CREATE INDEX prepayment_requests_contract ON prepayment_requests (contract_id, id);
