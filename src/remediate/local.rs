//! The `local` provider: a plan's edits as one commit on a branch of a local repository, for
//! users who push themselves (and for tests). The commit is written straight into the object
//! database (no working copy, no checkout); its parent is the scanned commit, so its diff is
//! exactly the plan. One branch per source and target, on a deterministic name; running again
//! with the same plan changes nothing, a changed plan replaces gitdrift's commit, no plan
//! deletes gitdrift's branch, and a branch someone else has committed to is left alone.

use std::path::Path;

use serde::Serialize;

use super::{FileChange, RemediateError};

/// Who gitdrift's commits are by.
pub const AUTHOR: (&str, &str) = ("gitdrift", "gitdrift@localhost");

/// What happened to a branch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum Outcome {
    /// A new branch.
    Opened {
        /// Its commit.
        commit: String,
    },
    /// gitdrift's commit replaced by one for the changed plan.
    Updated {
        /// The new commit.
        commit: String,
    },
    /// The branch already holds this plan.
    Unchanged {
        /// Its commit.
        commit: String,
    },
    /// No drift to adopt any more: gitdrift's branch deleted.
    Closed,
    /// Nothing to do and no branch.
    Nothing,
    /// The branch has commits by someone else: not touched.
    LeftAlone {
        /// Why.
        reason: String,
    },
}

/// The branch for a source and target: `gitdrift/remediate/<source>-<target>`.
pub fn branch_name(source: &str, target: &str) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                    c
                } else {
                    '-'
                }
            })
            .collect()
    };
    format!("gitdrift/remediate/{}-{}", clean(source), clean(target))
}

/// Brings the branch of `source`/`target` in `repo` in line with `changes` (all of that source,
/// at `base`, the scanned commit). `message` is the commit message.
pub fn apply(
    repo: &Path,
    branch: &str,
    base: &str,
    changes: &[&FileChange],
    message: &str,
) -> Result<Outcome, RemediateError> {
    let git = |e: &dyn std::fmt::Display| RemediateError::Git(e.to_string());
    let repo = gix::open(repo).map_err(|e| git(&format!("{}: {e}", repo.display())))?;
    let full = format!("refs/heads/{branch}");
    let existing = repo
        .try_find_reference(full.as_str())
        .map_err(|e| git(&e))?
        .map(|mut r| r.peel_to_id().map(|id| id.detach()))
        .transpose()
        .map_err(|e| git(&e))?;
    // Only a branch whose commits are all gitdrift's, on top of a commit of the base's history,
    // may be rewritten.
    if let Some(tip) = existing {
        let commit = repo.find_commit(tip).map_err(|e| git(&e))?;
        let author = commit.author().map_err(|e| git(&e))?;
        let committer = commit.committer().map_err(|e| git(&e))?;
        // An amended or rebased commit keeps its author but not its committer.
        if author.email != AUTHOR.1 || committer.email != AUTHOR.1 {
            return Ok(Outcome::LeftAlone {
                reason: format!(
                    "{branch} has a commit by {} on top of gitdrift's: it is not rewritten",
                    author.name
                ),
            });
        }
    }
    if changes.is_empty() {
        return match existing {
            Some(_) => {
                repo.find_reference(full.as_str())
                    .map_err(|e| git(&e))?
                    .delete()
                    .map_err(|e| git(&e))?;
                Ok(Outcome::Closed)
            }
            None => Ok(Outcome::Nothing),
        };
    }
    let base_id = gix::ObjectId::from_hex(base.as_bytes()).map_err(|e| git(&e))?;
    let base_commit = repo.find_commit(base_id).map_err(|e| git(&e))?;
    let base_tree = base_commit.tree_id().map_err(|e| git(&e))?;
    let mut editor = repo.edit_tree(base_tree).map_err(|e| git(&e))?;
    for change in changes {
        let blob = repo
            .write_blob(change.after.as_bytes())
            .map_err(|e| git(&e))?;
        editor
            .upsert(
                change.file.as_str(),
                gix::object::tree::EntryKind::Blob,
                blob,
            )
            .map_err(|e| git(&e))?;
    }
    let tree = editor.write().map_err(|e| git(&e))?.detach();
    if let Some(tip) = existing {
        let commit = repo.find_commit(tip).map_err(|e| git(&e))?;
        let same_tree = commit.tree_id().map_err(|e| git(&e))?.detach() == tree;
        let same_base = commit.parent_ids().next().map(|p| p.detach()) == Some(base_id);
        if same_tree && same_base {
            return Ok(Outcome::Unchanged {
                commit: tip.to_string(),
            });
        }
    }
    let time = format!("{} +0000", chrono::Utc::now().timestamp());
    let signature = gix::actor::SignatureRef {
        name: AUTHOR.0.into(),
        email: AUTHOR.1.into(),
        time: &time,
    };
    let commit = repo
        .new_commit_as(signature, signature, message, tree, [base_id])
        .map_err(|e| git(&e))?
        .id;
    let constraint = match existing {
        Some(tip) => {
            gix::refs::transaction::PreviousValue::MustExistAndMatch(gix::refs::Target::Object(tip))
        }
        None => gix::refs::transaction::PreviousValue::MustNotExist,
    };
    let name: gix::refs::FullName = full
        .as_str()
        .try_into()
        .map_err(|e: gix::validate::reference::name::Error| git(&e))?;
    // The reflog is written as gitdrift, whatever identity the repository configures (or not).
    repo.edit_references_as(
        [gix::refs::transaction::RefEdit::update(
            name,
            commit,
            constraint,
            "gitdrift remediate",
        )],
        Some(signature),
    )
    .map_err(|e| git(&e))?;
    Ok(match existing {
        Some(_) => Outcome::Updated {
            commit: commit.to_string(),
        },
        None => Outcome::Opened {
            commit: commit.to_string(),
        },
    })
}
