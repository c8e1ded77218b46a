//! Proposing a plan through the configured provider, one branch (and pull or merge request) per
//! source and target: what the command line's `remediate --open` and `serve` both call.

use serde::Serialize;

use super::local::{self, Outcome};
use super::{
    FileChange, Plan, RemediateError, Suggestion, api, gitea, github, gitlab, pr_body, pr_title,
    render_plan,
};
use crate::config::remediation::{Hosting, Provider};
use crate::config::{Config, RepoLocation};
use crate::report::ScanReport;

/// What happened for one source.
#[derive(Clone, Debug, Serialize)]
pub struct Proposal {
    /// The source.
    pub source: String,
    /// Its target.
    pub target: String,
    /// The branch.
    pub branch: String,
    /// What was done.
    pub outcome: Outcome,
    /// The pull or merge request, for hosting providers.
    pub url: Option<String>,
}

impl Proposal {
    /// One line for people.
    pub fn describe(&self) -> Option<String> {
        let branch = &self.branch;
        let Some(url) = &self.url else {
            // A local branch.
            return Some(match &self.outcome {
                Outcome::Opened { commit } => format!("opened {branch} at {commit}"),
                Outcome::Updated { commit } => format!("updated {branch} to {commit}"),
                Outcome::Unchanged { commit } => format!("unchanged {branch} at {commit}"),
                Outcome::Closed => format!("closed {branch}: no drift left to adopt"),
                Outcome::Nothing => return None,
                Outcome::LeftAlone { reason } => format!("left alone: {reason}"),
            });
        };
        Some(match &self.outcome {
            Outcome::Opened { commit } => format!("opened {url} ({branch} at {commit})"),
            Outcome::Updated { commit } => format!("updated {url} ({branch} to {commit})"),
            Outcome::Unchanged { commit } => format!("unchanged {url} ({branch} at {commit})"),
            Outcome::Closed => format!("closed {url}: no drift left to adopt"),
            Outcome::Nothing => return None,
            Outcome::LeftAlone { reason } => format!("left alone {url}: {reason}"),
        })
    }

    /// The state a metric counts it under.
    pub fn state(&self) -> Option<&'static str> {
        match self.outcome {
            Outcome::Opened { .. } | Outcome::Updated { .. } | Outcome::Unchanged { .. } => {
                Some("open")
            }
            Outcome::Closed => Some("closed"),
            Outcome::LeftAlone { .. } => Some("left_alone"),
            Outcome::Nothing => None,
        }
    }
}

/// The stored scan a plan comes from, for the pull request's description.
#[derive(Clone, Debug, Default)]
pub struct ScanRef {
    /// Its id in the history.
    pub id: Option<i64>,
    /// Where its full report can be read.
    pub url: Option<String>,
}

/// Proposes the plan for every source (or only the one named) through `provider`.
pub async fn propose(
    config: &Config,
    provider: &Provider,
    report: &ScanReport,
    plan: &Plan,
    only: Option<&str>,
    scan: &ScanRef,
) -> Result<Vec<Proposal>, RemediateError> {
    let mut out = Vec::new();
    let token = match provider {
        Provider::Local => None,
        Provider::GitHub(h) | Provider::GitLab(h) | Provider::Gitea(h) => Some(
            h.token
                .read()
                .map_err(|e| RemediateError::Token(format!("the remediation token: {e}")))?,
        ),
    };
    for source in config
        .sources
        .iter()
        .filter(|s| only.is_none_or(|o| s.name == o))
    {
        let Some(base) = report.commit_of(&source.name) else {
            continue;
        };
        let changes: Vec<&FileChange> = plan
            .changes
            .iter()
            .filter(|c| c.source == source.name)
            .collect();
        let suggestions: Vec<&Suggestion> = plan
            .suggestions
            .iter()
            .filter(|s| s.source == source.name)
            .collect();
        let fields: usize = changes.iter().map(|c| c.fields.len()).sum();
        let branch = local::branch_name(&source.name, &source.target);
        // The branch the source is read from is where the request goes; a tag or a commit
        // cannot take one.
        let into = match source.git_ref.as_deref() {
            None => None,
            Some(r)
                if r.starts_with("refs/tags/")
                    || (r.len() == 40 && r.bytes().all(|b| b.is_ascii_hexdigit())) =>
            {
                tracing::warn!(message = "remediation skipped: the source reads a tag or a commit", source = %source.name);
                continue;
            }
            Some(r) => Some(r.strip_prefix("refs/heads/").unwrap_or(r).to_string()),
        };
        // A scan with errors may not have seen the drift that is gone: nothing is closed then.
        let close = config.remediation.close_when_gone && report.summary.errors == 0;
        let title = pr_title(&source.target, fields);
        let (outcome, url) = match provider {
            Provider::Local => {
                let RepoLocation::Local(path) = &source.repo else {
                    continue;
                };
                let sub = Plan {
                    changes: changes.iter().map(|c| (*c).clone()).collect(),
                    suggestions: Vec::new(),
                };
                let message = format!(
                    "{title}\n\n{}\nScanned {} at commit {base}.\n",
                    render_plan(&sub),
                    report.scan.started_at.format("%Y-%m-%dT%H:%M:%SZ"),
                );
                if changes.is_empty() && !close {
                    continue;
                }
                let outcome = local::apply(path, &branch, &base, &changes, &message)
                    .map_err(|e| e.within(path.display()))?;
                (outcome, None)
            }
            Provider::GitHub(h) | Provider::GitLab(h) | Provider::Gitea(h) => {
                let Some(repository) = repository(h, &source.repo) else {
                    continue;
                };
                let token = token.clone().unwrap_or_default();
                let body = pr_body(report, &source.name, &changes, &suggestions, scan);
                let into = into.as_deref();
                let proposal = api::Proposal {
                    branch: &branch,
                    base: &base,
                    into,
                    changes: &changes,
                    title: &title,
                    body: &body,
                    labels: &h.labels,
                    close_when_gone: close,
                };
                let applied = match provider {
                    Provider::GitHub(_) => {
                        github::GitHub::new(&h.api_url, token, &repository)?
                            .apply(&proposal)
                            .await
                    }
                    Provider::GitLab(_) => {
                        gitlab::GitLab::new(&h.api_url, token, &repository)?
                            .apply(&proposal)
                            .await
                    }
                    _ => {
                        gitea::Gitea::new(&h.api_url, token, &repository)?
                            .apply(&proposal)
                            .await
                    }
                };
                applied.map_err(|e| e.within(&repository))?
            }
        };
        out.push(Proposal {
            source: source.name.clone(),
            target: source.target.clone(),
            branch,
            outcome,
            url,
        });
    }
    Ok(out)
}

/// The hosted repository of a source: configured, or from its URL.
fn repository(hosting: &Hosting, repo: &RepoLocation) -> Option<String> {
    match (&hosting.repository, repo) {
        (Some(r), _) => Some(r.clone()),
        (None, RepoLocation::Remote(url)) => github::repository_of(url),
        _ => None,
    }
}
