//! The report formats, declared once: the command line, the configuration, the API and the
//! scheduled reports all take their names, media types, extensions and the list of every format
//! from the one table below.

/// Declares [`Format`] and its table; a format added here is known everywhere.
macro_rules! formats {
    ($($(#[doc = $doc:literal])* $variant:ident => $name:literal, $media:literal, $extension:literal;)*) => {
        /// Output formats.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
        pub enum Format {
            $($(#[doc = $doc])* #[value(name = $name)] $variant,)*
        }

        impl Format {
            /// Every format, in the order of the table.
            pub const ALL: &'static [Format] = &[$(Format::$variant),*];

            /// The name used on the command line, in the configuration and in the API.
            pub fn name(self) -> &'static str {
                match self {
                    $(Format::$variant => $name,)*
                }
            }

            /// The media type served.
            pub fn media_type(self) -> &'static str {
                match self {
                    $(Format::$variant => $media,)*
                }
            }

            /// The usual file extension.
            pub fn extension(self) -> &'static str {
                match self {
                    $(Format::$variant => $extension,)*
                }
            }
        }
    };
}

formats! {
    /// Readable per-resource diff.
    Text => "text", "text/plain; charset=utf-8", "txt";
    /// The `gitdrift.report/v1` JSON document.
    Json => "json", "application/json", "json";
    /// Markdown, for a pull-request comment or an issue.
    Markdown => "markdown", "text/markdown; charset=utf-8", "md";
    /// One self-contained HTML page.
    Html => "html", "text/html; charset=utf-8", "html";
    /// SARIF 2.1.0, for code scanning.
    Sarif => "sarif", "application/sarif+json", "sarif";
    /// JUnit XML, for CI dashboards.
    Junit => "junit", "application/xml", "xml";
    /// CSV, one row per drift or finding.
    Csv => "csv", "text/csv; charset=utf-8", "csv";
    /// OpenReports `Report`/`ClusterReport` documents (YAML), for Policy Reporter and Kyverno.
    Openreports => "openreports", "application/yaml", "yaml";
}

impl Format {
    /// The format with this name.
    pub fn named(name: &str) -> Option<Format> {
        Format::ALL.iter().copied().find(|f| f.name() == name)
    }

    /// Every name, comma-separated, for error messages.
    pub fn names() -> String {
        Format::ALL
            .iter()
            .map(|f| f.name())
            .collect::<Vec<_>>()
            .join(", ")
    }
}
