-- Credit and the deposit held are money owed to the customer: never below zero.
ALTER TABLE contracts ADD CONSTRAINT contracts_credit_not_negative CHECK (credit >= 0),
                      ADD CONSTRAINT contracts_deposit_not_negative CHECK (deposit_held >= 0);
