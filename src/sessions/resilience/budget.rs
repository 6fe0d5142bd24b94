//! The process-wide retry budget, after the AWS SDKs' standard retry mode: a
//! token bucket that every retry draws from (throttling retries cheaper than
//! other transient failures) and that successes refill, so that when most calls
//! fail, retries stop multiplying the load. First attempts never need tokens.

use std::sync::Mutex;

/// What a retry is for, which sets its cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryCost {
    /// After a ThrottlingException.
    Throttling,
    /// After a 5xx, a timeout or a connection failure.
    Transient,
}

/// Token costs and refunds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetCosts {
    /// Cost of a retry after throttling.
    pub throttling: u32,
    /// Cost of a retry after another transient failure.
    pub transient: u32,
    /// Tokens a first-attempt success gives back.
    pub success_refund: u32,
}

impl Default for BudgetCosts {
    /// AWS standard mode: retries cost 5, timeouts and other transient
    /// failures 10, a success returns 1.
    fn default() -> Self {
        Self { throttling: 5, transient: 10, success_refund: 1 }
    }
}

#[derive(Debug)]
struct State {
    level: u32,
}

/// The shared retry budget.
#[derive(Debug)]
pub struct RetryBudget {
    capacity: u32,
    costs: BudgetCosts,
    state: Mutex<State>,
}

impl RetryBudget {
    /// A full budget of `capacity` tokens.
    pub fn new(capacity: u32, costs: BudgetCosts) -> Self {
        Self { capacity, costs, state: Mutex::new(State { level: capacity }) }
    }

    fn cost(&self, kind: RetryCost) -> u32 {
        match kind {
            RetryCost::Throttling => self.costs.throttling,
            RetryCost::Transient => self.costs.transient,
        }
    }

    /// Takes the tokens for one retry; `None` when the budget cannot pay.
    /// The returned amount is what a success after this retry gives back.
    pub fn withdraw(&self, kind: RetryCost) -> Option<u32> {
        let cost = self.cost(kind);
        let mut state = crate::sync::lock(&self.state);
        (state.level >= cost).then(|| {
            state.level -= cost;
            cost
        })
    }

    /// A call succeeded: gives back what its retry cost, or the success
    /// refund when it succeeded at once.
    pub fn deposit(&self, retry_cost: Option<u32>) {
        let refund = retry_cost.unwrap_or(self.costs.success_refund);
        let mut state = crate::sync::lock(&self.state);
        state.level = (state.level + refund).min(self.capacity);
    }

    /// Tokens left.
    pub fn level(&self) -> u32 {
        crate::sync::lock(&self.state).level
    }

    /// Tokens when full.
    pub fn capacity(&self) -> u32 {
        self.capacity
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_retries_are_cheaper_and_an_empty_budget_refuses() {
        let budget = RetryBudget::new(20, BudgetCosts::default());
        assert_eq!(budget.withdraw(RetryCost::Transient), Some(10));
        assert_eq!(budget.withdraw(RetryCost::Throttling), Some(5));
        assert_eq!(budget.withdraw(RetryCost::Transient), None);
        assert_eq!(budget.withdraw(RetryCost::Throttling), Some(5));
        assert_eq!(budget.level(), 0);
        assert_eq!(budget.withdraw(RetryCost::Throttling), None);
    }

    #[test]
    fn successes_refill_up_to_capacity() {
        let budget = RetryBudget::new(10, BudgetCosts::default());
        let paid = budget.withdraw(RetryCost::Transient);
        assert_eq!(budget.level(), 0);
        budget.deposit(paid);
        assert_eq!(budget.level(), 10);
        budget.deposit(None);
        assert_eq!(budget.level(), 10, "never above capacity");
    }
}
