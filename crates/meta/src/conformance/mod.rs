//! The `MetaStore` conformance suite: what every metadata implementation must do, written
//! once against the traits. [`crate::SqliteMeta`] passes it (`tests/conformance.rs`); a
//! PostgreSQL store will run the same checks. Each check panics with what broke.
//!
//! An implementation is given to the suite as a factory returning a fresh, empty store and
//! a guard kept alive while the store is used (its temporary directory, or whatever drops
//! a test database). [`meta_conformance_tests!`](crate::meta_conformance_tests) declares
//! one `#[test]` per check; [`run_all`] runs them one after another. The list of checks is
//! [`CHECKS`].
//!
//! ```text
//! fn fresh() -> (tempfile::TempDir, nas_meta::SqliteMeta) { /* … */ }
//! nas_meta::meta_conformance_tests!(fresh);
//! ```
//!
//! What is left to each implementation's own tests: its schema and migrations, `backup`,
//! and how its name index is built (the suite checks only that search answers the same
//! whatever the indexer has done).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed check is a failed test

mod accounts;
mod chunks;
mod deltas;
mod implicit;
mod locks;
mod namespace;
mod placement;
mod quota;
mod search;
mod shares;
mod trash;
mod versions;

pub use accounts::*;
pub use chunks::*;
pub use deltas::*;
pub use implicit::*;
pub use locks::*;
pub use namespace::*;
pub use placement::*;
#[cfg(test)]
pub(crate) use quota::put as commit_sized;
pub use quota::*;
pub use search::*;
pub use shares::*;
pub use trash::*;
pub use versions::*;

use crate::{CommitRequest, FileAttrs, MetaStore, NewChunk, VersionRecord};
pub(crate) use accounts::user as accounts_user;
use nas_blob::BlobLocation;
use nas_types::{ChunkId, ContentHash, NodeId, PackId};

/// One check: given a fresh, empty store, panics if the store breaks the contract.
pub type Check = fn(&dyn MetaStore);

// The one list of checks: `meta_conformance_tests!(@checks)` (below) turns it into the
// [`CHECKS`] table here, and `meta_conformance_tests!(factory)` into one test per check.
crate::meta_conformance_tests!(@checks);

/// Runs every check, each on a fresh store from `new` (the guard `G` is dropped after it).
pub fn run_all<G, M: MetaStore>(new: impl Fn() -> (G, M)) {
    for (name, check) in CHECKS {
        eprintln!("meta conformance: {name}");
        let (_guard, m) = new();
        check(&m);
    }
}

/// Declares one `#[test]` per conformance check, each on a fresh store from `$new` (a
/// function or closure returning `(guard, store)`), and a test that the list is complete.
/// The list of checks is written once, here; `@checks` makes [`CHECKS`] from it.
#[macro_export]
macro_rules! meta_conformance_tests {
    ($new:expr) => {
        $crate::meta_conformance_tests!(@list (@each $new));
    };
    (@checks) => {
        $crate::meta_conformance_tests!(@list (@table));
    };
    (@list ($($mode:tt)*)) => {
        $crate::meta_conformance_tests!($($mode)*;
            homes_are_created_once,
            mkdir_and_child_name_the_tree,
            walk_follows_folders_and_stops_at_files_and_gaps,
            walk_parent_finds_the_folder_and_the_child,
            listings_page_by_name_bytewise,
            sorted_listings_page_every_child_once_in_order,
            rename_moves_and_refuses_cycles_roots_and_other_homes,
            rename_onto_an_existing_name_displaces_it_or_fails,
            copy_shares_chunks_and_copies_whole_trees,
            mtime_and_attrs_are_set_on_the_head,
            paths_sizes_and_liveness,
            commits_create_files_and_append_versions,
            a_group_commit_is_all_or_none,
            expectations_are_checked_inside_the_commit,
            concurrent_absent_commits_admit_exactly_one,
            an_empty_head_is_replaced_not_kept,
            restore_makes_an_old_version_the_newest,
            versions_record_their_author,
            deleting_a_version_releases_its_chunks_and_moves_the_head,
            locked_versions_are_never_deleted,
            lock_changes_follow_the_modes,
            a_versions_attrs_change_in_place,
            versions_are_found_by_content_hash_within_one_home,
            files_over_a_version_count_and_the_version_scan,
            refs_follow_versions_copies_and_purges,
            unreferenced_chunks_wait_out_the_grace_period,
            chunks_are_found_by_id_row_and_pack,
            chunks_are_looked_up_by_row_many_at_once,
            a_commit_of_many_new_chunks_indexes_each_once,
            unreferenced_chunks_page_and_deletion_honours_keep,
            relocation_moves_chunks_between_packs,
            a_delta_holds_a_reference_on_its_base_until_deleted,
            a_delta_is_never_a_base_and_needs_its_base_indexed,
            recodes_keep_depth_one_and_apply_only_where_the_frame_was_read,
            similar_chunks_share_super_features,
            stats_count_deltas_apart,
            stats_count_live_files_and_every_version,
            trash_detaches_lists_restores_and_purges,
            trash_entries_age_and_refuse_bad_restores,
            a_trashed_file_may_lose_its_last_version,
            users_and_keys,
            disabling_a_user_raises_the_sessions_epoch,
            app_passwords_are_found_by_hash_and_go_with_their_user,
            shares_are_found_by_hash_counted_and_go_with_their_owner,
            dead_props_apply_in_order_and_follow_copies,
            dead_props_of_a_folders_children_come_in_one_call,
            locks_expire_refresh_and_go_with_their_subtree,
            the_audit_log_keeps_the_newest_entries_and_pages_newest_first,
            settings_are_kept_and_replaced,
            documents_are_replaced_whole_and_created_once,
            failures_are_counted_capped_forgiven_and_forgotten,
            nodes_announce_themselves_and_leave,
            search_matches_names_like_the_scan,
            search_filters_and_pages,
            search_answers_the_same_before_and_after_indexing,
            counters_follow_every_change_of_usage,
            a_commit_over_the_quota_changes_nothing,
            restoring_from_the_trash_is_checked,
            staging_homes_count_with_their_account,
            counting_every_version_refuses_a_new_version_at_the_quota,
            implicit_folders_go_with_their_last_child,
        );
    };
    (@table; $($name:ident),* $(,)?) => {
        /// Every check of the suite, by name, in the order [`run_all`] runs them.
        pub const CHECKS: &[(&str, Check)] = &[$((stringify!($name), $name as Check)),*];
        /// The names of [`CHECKS`], as `meta_conformance_tests!` must declare them.
        #[doc(hidden)]
        pub const NAMES: &[&str] = &[$(stringify!($name)),*];
    };
    (@each $new:expr; $($check:ident),* $(,)?) => {
        $(
            #[test]
            fn $check() {
                let (_guard, m) = ($new)();
                $crate::conformance::$check(&m);
            }
        )*
        // the placement log, which every metadata store also is (nas_blob::PlacementLog)
        #[test]
        fn placements_are_looked_up_one_at_a_time_with_their_age() {
            let (_guard, m) = ($new)();
            $crate::conformance::placements_are_looked_up_one_at_a_time_with_their_age(&m);
        }
        #[test]
        fn every_conformance_check_has_a_test() {
            assert_eq!(&[$(stringify!($check)),*][..], $crate::conformance::NAMES);
        }
    };
}

/// Chunk `n`: its id is the hash of `n`, stored 7 bytes long at offset `n * 100` of pack 1.
pub(crate) fn chunk(n: u32) -> NewChunk {
    NewChunk {
        id: ChunkId::of(&n.to_le_bytes()),
        raw_len: 1,
        codec: 0,
        loc: BlobLocation {
            pack: PackId(1),
            offset: u64::from(n) * 100,
            len: 7,
        },
        base: None,
        whole_len: 0,
        sketch: None,
    }
}

/// A commit request of `parent/name` made of `chunks` (1 byte each), all new.
pub(crate) fn req<'a>(
    parent: NodeId,
    name: &'a str,
    extents: &'a [(ChunkId, u32)],
    chunks: &'a [NewChunk],
) -> CommitRequest<'a> {
    CommitRequest {
        expect: None,
        parent,
        name,
        path: "",
        extents,
        new_chunks: chunks,
        size: extents.iter().map(|e| u64::from(e.1)).sum(),
        hash: content_hash(extents),
        mtime_ns: 5,
        now_ns: 6,
        attrs: FileAttrs::default(),
        author: None,
        lock: Default::default(),
    }
}

/// The content hash the suite gives a list of chunks (the hash of their ids).
pub(crate) fn content_hash(extents: &[(ChunkId, u32)]) -> ContentHash {
    let bytes: Vec<u8> = extents.iter().flat_map(|e| e.0.0).collect();
    ContentHash::of(&bytes)
}

/// Commits `parent/name` made of `chunks`.
pub(crate) fn commit(
    m: &dyn MetaStore,
    parent: NodeId,
    name: &str,
    chunks: &[NewChunk],
) -> VersionRecord {
    let extents: Vec<_> = chunks.iter().map(|c| (c.id, 1)).collect();
    m.commit_version(&req(parent, name, &extents, chunks))
        .unwrap()
}

/// References on chunk `n` (`None`: not in the index).
pub(crate) fn refs(m: &dyn MetaStore, n: u32) -> Option<i64> {
    m.find_chunk(&chunk(n).id).unwrap().map(|c| c.refs)
}
