//! What a row *is*, apart from where it stands in the sheet.
//!
//! The checkpoint records each row's identity beside its outcome, so a re-run of a sheet whose
//! cells were fixed, whose rows were added, removed or re-sorted, still finds every row's
//! earlier outcome: the same conversion with the same values is the same row wherever it
//! moved; the same conversion with other values is a changed row.

use super::params::{PARAMS, Param};
use super::row::ConversionUpdate;
use sha2::{Digest as _, Sha256};

/// A row's identity: the conversion it targets and a digest of everything it sends.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RowIdent {
    /// The conversion: `0|conversion_id|request_session_id|transaction_id` (the ids are
    /// digits, so the first three `|` split it unambiguously whatever the transaction id holds;
    /// the first place, once the offer, is always `0`: see [`ConversionUpdate::ident_key`]).
    pub key: String,
    /// SHA-256 (first 128 bits, hex) of every parameter's wire value but the key and the
    /// offer: two rows with the same digest do the same to their conversion.
    pub content: String,
}

/// [`RowIdent::key`] of a row naming `offer`, `conversion_id`, `request_session_id`,
/// `transaction_id` (0 and "" for an id the row does not give). The one place the key is
/// written.
#[must_use]
pub fn key_of(
    offer: i32,
    conversion_id: i32,
    request_session_id: i32,
    transaction_id: &str,
) -> String {
    format!("{offer}|{conversion_id}|{request_session_id}|{transaction_id}")
}

/// Every key a sheet row could have named `held` by: each non-empty choice of its ids
/// (conversion id, request session id, transaction id), with no offer or with its offer (the
/// key journals written before the offer left the identity hold). A journal line under any of
/// them is an addition to this very conversion, whichever id the sheet used then.
#[must_use]
pub fn keys_naming(held: &super::Held) -> Vec<String> {
    let cid = held.conversion_id;
    let rsid = held.request_session_id.unwrap_or(0);
    let tid = held.transaction_id.as_deref().unwrap_or("");
    let mut offers = vec![0];
    if let Some(o) = held.offer_id.filter(|o| *o != 0) {
        offers.push(o);
    }
    let mut keys = Vec::new();
    for offer in offers {
        // Bits: 1 conversion id, 2 request session id, 4 transaction id.
        for pick in 1u8..8 {
            let c = if pick & 1 != 0 { cid } else { 0 };
            let r = if pick & 2 != 0 { rsid } else { 0 };
            let t = if pick & 4 != 0 { tid } else { "" };
            if (pick & 2 != 0 && r == 0)
                || (pick & 4 != 0 && t.is_empty())
                || (pick & 1 != 0 && c == 0)
            {
                continue;
            }
            keys.push(key_of(offer, c, r, t));
        }
    }
    keys
}

impl ConversionUpdate {
    /// The conversion this row targets, as [`RowIdent::key`] writes it (without the digest of
    /// what it sends).
    ///
    /// The offer is not part of it (its place in the key is always `0`): an offer says which
    /// offer CAKE files the conversion under, never which conversion it is, and it may come
    /// from the sheet in one run and from CAKE's reports in the next (a blank cell filled in,
    /// `--set offer_id` added). A row whose identity changed with it would be a new row, and
    /// an addition already applied would be sent again.
    #[must_use]
    pub fn ident_key(&self) -> String {
        key_of(
            0,
            self.conversion_id,
            self.request_session_id,
            &self.transaction_id,
        )
    }

    /// This row's identity.
    #[must_use]
    pub fn ident(&self) -> RowIdent {
        let key = self.ident_key();
        let mut h = Sha256::new();
        // What the row does to its conversion: every parameter but the key and the offer
        // (see [`Self::ident_key`]).
        for spec in PARAMS
            .iter()
            .filter(|s| !matches!(s.param, Param::ApiKey | Param::OfferId))
        {
            h.update(spec.name.as_bytes());
            h.update([0x1f]);
            h.update(self.wire_value(spec.param, false).as_bytes());
            h.update([0x1e]);
        }
        let digest = h.finalize();
        let content = digest
            .iter()
            .take(16)
            .fold(String::with_capacity(32), |mut s, b| {
                use std::fmt::Write as _;
                let _ = write!(s, "{b:02x}");
                s
            });
        RowIdent { key, content }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;

    #[test]
    fn the_row_number_is_not_part_of_the_identity_but_every_value_is() {
        let a = ConversionUpdate::test_default();
        let moved = ConversionUpdate {
            row: 99,
            ..a.clone()
        };
        assert_eq!(a.ident(), moved.ident());
        let fixed = ConversionUpdate {
            payout: Decimal::new(1250, 2),
            ..a.clone()
        };
        assert_eq!(a.ident().key, fixed.ident().key);
        assert_ne!(a.ident().content, fixed.ident().content);
        let noted = ConversionUpdate {
            note_to_append: "x".into(),
            ..a.clone()
        };
        assert_ne!(a.ident().content, noted.ident().content);
        let other = ConversionUpdate {
            conversion_id: 2,
            ..a.clone()
        };
        assert_ne!(a.ident().key, other.ident().key);
        assert_eq!(a.ident().content.len(), 32);
        // The offer is not what a row is: given, read from CAKE, or filled in later.
        let offered = ConversionUpdate {
            offer_id: 55,
            ..a.clone()
        };
        assert_eq!(a.ident(), offered.ident());
    }

    #[test]
    fn a_transaction_id_with_bars_cannot_pose_as_other_ids() {
        let a = ConversionUpdate {
            conversion_id: 0,
            transaction_id: "1|2".into(),
            ..ConversionUpdate::test_default()
        };
        let b = ConversionUpdate {
            conversion_id: 1,
            transaction_id: "2".into(),
            ..ConversionUpdate::test_default()
        };
        assert_ne!(a.ident().key, b.ident().key);
    }
}
