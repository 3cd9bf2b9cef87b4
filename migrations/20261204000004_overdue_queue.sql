-- The overdue queue is read most risky first and paged by the keyset (score, contract): the index
-- gives that order, so a page reads its fifty rows instead of sorting every overdue contract. It
-- also serves what the score-only index served.
DROP INDEX contract_risk_score;
CREATE INDEX contract_risk_order ON contract_risk (score, contract_id);
