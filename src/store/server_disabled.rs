//! `--db postgres://…` in a ritplan built without the `postgres` feature: every use is refused.

use super::{Store, StoreError};

fn unsupported(url: &str) -> StoreError {
    StoreError::Open {
        path: url.into(),
        message: "this ritplan was built without PostgreSQL (feature `postgres`)".into(),
    }
}

pub fn create(
    url: &str,
    _training: bool,
    _seed: Option<&super::Seed<'_>>,
) -> Result<(Store, super::made::Made), StoreError> {
    Err(unsupported(url))
}

pub fn discard(store: Store) -> Result<(), StoreError> {
    Err(unsupported(&store.place))
}

pub fn open_at(url: &str, _upgrade: bool) -> Result<Store, StoreError> {
    Err(unsupported(url))
}
