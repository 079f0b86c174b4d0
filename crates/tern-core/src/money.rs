//! Money as integer micro-units (1/1,000,000 of the account currency), so balances never drift
//! the way floating point does.

use std::fmt;
use std::str::FromStr;

/// An amount in micro-units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Money(pub i64);

/// Text that is not a decimal amount.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid amount '{0}': use a decimal number such as 10 or 0.075")]
pub struct InvalidAmount(pub String);

const MICROS: i64 = 1_000_000;

/// Whether an account with `balance` (`None`: unlimited) may be debited `price`: an unlimited
/// account always may; any other only while its balance is above zero and covers the price. A
/// balance of zero or below is out of balance even for messages that cost nothing.
pub fn can_pay(balance: Option<Money>, price: Money) -> bool {
    match balance {
        None => true,
        Some(balance) => balance.0 > 0 && balance.0 >= price.0,
    }
}

/// The balance an account with `balance` is left with after paying `price`, or `None` when it
/// cannot pay it ([`can_pay`]): the one rule of a debit, which every store applies inside the
/// transaction that stores what is paid for.
pub fn debit(balance: Money, price: Money) -> Option<Money> {
    can_pay(Some(balance), price).then(|| Money(balance.0 - price.0))
}

/// The balance an account with `balance` is left with after `amount` is given back to it (a
/// cancelled message's price): the one rule of a credit, applied like [`debit`] inside the
/// transaction that records why. Saturating: a balance never wraps around.
pub fn credit(balance: Money, amount: Money) -> Money {
    Money(balance.0.saturating_add(amount.0))
}

/// The balance an account with `balance` is left with when a message it paid `paid` for is
/// changed to cost `price` (SMPP's replace_sm): the difference debited as [`debit`] decides
/// (`None`: it cannot pay it), or credited back as [`credit`] does. Nothing changes hands when
/// the price stays.
pub fn reprice(balance: Money, paid: Money, price: Money) -> Option<Money> {
    if price.0 > paid.0 {
        debit(balance, Money(price.0 - paid.0))
    } else {
        Some(credit(balance, Money(paid.0 - price.0)))
    }
}

/// What one of the `parts` of a message priced `price` costs (rounded down to the micro-unit; a
/// message of no parts counts as one): the tariff an SMPP receipt of a part carries.
pub fn per_part(price: Money, parts: u32) -> Money {
    Money(price.0 / i64::from(parts.max(1)))
}

impl Money {
    /// Whole micro-units.
    pub fn micros(self) -> i64 {
        self.0
    }

    /// `self * count`, saturating.
    pub fn times(self, count: u64) -> Money {
        Money(self.0.saturating_mul(count.min(i64::MAX as u64) as i64))
    }
}

impl FromStr for Money {
    type Err = InvalidAmount;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || InvalidAmount(text.to_owned());
        let trimmed = text.trim();
        let (negative, digits) = match trimmed.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, trimmed),
        };
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        if whole.is_empty() && fraction.is_empty()
            || fraction.len() > 6
            || !whole.bytes().all(|b| b.is_ascii_digit())
            || !fraction.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(invalid());
        }
        let whole: i64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| invalid())?
        };
        let fraction: i64 = format!("{fraction:0<6}").parse().map_err(|_| invalid())?;
        let micros = whole
            .checked_mul(MICROS)
            .and_then(|w| w.checked_add(fraction))
            .ok_or_else(invalid)?;
        Ok(Money(if negative { -micros } else { micros }))
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let fraction = format!("{:06}", abs % MICROS as u64);
        let fraction = fraction.trim_end_matches('0');
        if fraction.is_empty() {
            write!(f, "{sign}{}", abs / MICROS as u64)
        } else {
            write!(f, "{sign}{}.{fraction}", abs / MICROS as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_balance_pays_for_nothing_not_even_free_messages() {
        assert!(can_pay(None, Money(0)));
        assert!(can_pay(None, Money(i64::MAX)));
        assert!(can_pay(Some(Money(10)), Money(10)));
        assert!(can_pay(Some(Money(10)), Money(0)));
        assert!(!can_pay(Some(Money(10)), Money(11)));
        assert!(!can_pay(Some(Money(0)), Money(0)));
        assert!(!can_pay(Some(Money(-5)), Money(0)));
        assert_eq!(debit(Money(10), Money(4)), Some(Money(6)));
        assert_eq!(debit(Money(10), Money(10)), Some(Money(0)));
        assert_eq!(debit(Money(10), Money(11)), None);
        assert_eq!(debit(Money(0), Money(0)), None);
    }

    #[test]
    fn a_credit_adds_the_amount_and_saturates() {
        assert_eq!(credit(Money(10), Money(4)), Money(14));
        assert_eq!(credit(Money(-5), Money(5)), Money(0));
        assert_eq!(credit(Money(i64::MAX - 1), Money(5)), Money(i64::MAX));
    }

    #[test]
    fn a_new_price_debits_or_credits_the_difference() {
        assert_eq!(reprice(Money(100), Money(10), Money(30)), Some(Money(80)));
        assert_eq!(reprice(Money(100), Money(30), Money(10)), Some(Money(120)));
        assert_eq!(reprice(Money(0), Money(10), Money(10)), Some(Money(0)));
        assert_eq!(reprice(Money(15), Money(10), Money(30)), None);
        assert_eq!(reprice(Money(20), Money(10), Money(30)), Some(Money(0)));
    }

    #[test]
    fn a_part_costs_the_price_divided_by_the_parts_rounded_down() {
        assert_eq!(per_part(Money(225_000), 3), Money(75_000));
        assert_eq!(per_part(Money(100), 3), Money(33));
        assert_eq!(per_part(Money(75_000), 1), Money(75_000));
        assert_eq!(per_part(Money(75_000), 0), Money(75_000));
    }

    #[test]
    fn parses_and_prints_decimals() {
        assert_eq!("10".parse::<Money>(), Ok(Money(10_000_000)));
        assert_eq!("0.075".parse::<Money>(), Ok(Money(75_000)));
        assert_eq!("-1.5".parse::<Money>(), Ok(Money(-1_500_000)));
        assert!("1.0000001".parse::<Money>().is_err());
        assert!("abc".parse::<Money>().is_err());
        assert_eq!(Money(75_000).to_string(), "0.075");
        assert_eq!(Money(10_000_000).to_string(), "10");
        assert_eq!(Money(75_000).times(3), Money(225_000));
    }
}
