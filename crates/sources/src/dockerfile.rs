//! Dockerfile/Containerfile parsing: the image references of `# syntax=`, `FROM`,
//! `COPY/ADD --from=` and `--mount=…,from=`, with `BuildKit`'s rules for stages (aliases and
//! indexes are not images, nor is `scratch`) and for `ARG` scoping (global `ARG`s before the
//! first `FROM` feed every `FROM`; inside a stage only `ARG`s declared there are visible).

mod expand;
mod lexer;
mod words;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Range;

use portcullis_reference::inline::InlineComment;
use portcullis_reference::{ImageRef, Platform};

use self::expand::{expand, single_variable, Expanded, Lookup};
use self::lexer::Instruction;
use self::words::{csv_fields, extract_flags, flag, split_quoted, split_whitespace, Piece};
use crate::inline;
use crate::project::{BuildDefinition, NamedContext};
use crate::text::LineIndex;
use crate::{
    Context, Literal, LiteralForm, Occurrence, ParseOptions, Problem, ProblemKind, Resolution,
    SourceFile,
};

/// Build arguments `BuildKit` defines in the global scope; their value depends on the build.
const PLATFORM_ARGS: [&str; 8] = [
    "BUILDPLATFORM",
    "BUILDOS",
    "BUILDARCH",
    "BUILDVARIANT",
    "TARGETPLATFORM",
    "TARGETOS",
    "TARGETARCH",
    "TARGETVARIANT",
];

/// Longer words are refused as image references without being expanded or parsed (real
/// references are at most a few hundred bytes; this keeps hostile input cheap).
const MAX_REFERENCE_LEN: usize = 4096;

/// A declared build argument.
#[derive(Debug, Clone)]
struct Var {
    /// The value, or the name of the variable that leaves it without one.
    value: Result<String, String>,
    /// Where the value is written in this file, when it is a plain literal default.
    literal: Option<Literal>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Global,
    Stage,
}

/// Parses one Dockerfile: once per way it is built (each build definition of `context`, or
/// the plain build) and, when it uses the automatic platform args, once per platform of
/// `options`; the passes' occurrences are merged, one per distinct reference at each span.
pub(crate) fn parse(
    file: &SourceFile,
    text: &str,
    options: &ParseOptions,
    context: crate::FileContext<'_>,
) -> (Vec<Occurrence>, Vec<Problem>) {
    let lexed = lexer::lex(text);
    let plain = [BuildDefinition::default()];
    let builds = match context.builds() {
        [] => &plain[..],
        builds => builds,
    };
    let mentioned = !options.platforms.is_empty() && PLATFORM_ARGS.iter().any(|a| text.contains(a));
    let platforms: Vec<Option<&Platform>> = match &options.platforms[..] {
        // One platform: its values are the values, whatever they are used for.
        [only] if mentioned => vec![Some(only)],
        all if mentioned && references_use_platform_args(&lexed) => all.iter().map(Some).collect(),
        _ => vec![None],
    };
    let mut merged = Merged::default();
    for build in builds {
        for platform in &platforms {
            let mut args: BTreeMap<String, String> =
                platform.map(platform_args).unwrap_or_default();
            args.extend(build.args.iter().map(|(k, v)| (k.clone(), v.clone())));
            args.extend(
                options
                    .build_args
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone())),
            );
            let (occurrences, problems, platforms) =
                pass(file, text, &lexed, &args, &build.contexts);
            merged.add(occurrences, problems, &platforms);
        }
    }
    (merged.occurrences, merged.problems)
}

/// Whether a platform arg can change what a reference names: it is written in an `ARG`
/// default (which a reference may use), in a `FROM` image or stage name, or in a `COPY`/`ADD
/// --from=` or `RUN --mount=` flag. Only then does each platform need a pass of its own;
/// an arg used only in `FROM --platform=` or in a `RUN` command changes no reference, and
/// one pass gives the same occurrences (a `--platform=$BUILDPLATFORM` stays as written).
fn references_use_platform_args(lexed: &lexer::Lexed) -> bool {
    let mentions = |text: &str| PLATFORM_ARGS.iter().any(|a| text.contains(a));
    lexed.instructions.iter().any(|i| {
        let args = i.logical.text.get(i.args_start..).unwrap_or_default();
        match i.keyword.as_str() {
            // `ARG TARGETARCH` only declares it; a default that uses it can reach a reference.
            "arg" => args.split_whitespace().any(|word| {
                word.split_once('=')
                    .is_some_and(|(_, value)| mentions(value))
            }),
            "from" | "copy" | "add" | "run" => {
                let (flags, rest) = extract_flags(&i.logical, i.args_start);
                let flagged = flags.iter().any(|word| match flag(word) {
                    Some(("from" | "mount", value)) => mentions(&value.text),
                    _ => false,
                });
                flagged
                    || (i.keyword == "from"
                        && mentions(i.logical.text.get(rest..).unwrap_or_default()))
            }
            _ => false,
        }
    })
}

/// The values `BuildKit` gives its automatic platform args when building for `platform`
/// (the build platform taken to be the target one, as on a native builder).
fn platform_args(platform: &Platform) -> BTreeMap<String, String> {
    let variant = platform.variant().unwrap_or_default();
    [
        ("PLATFORM", platform.to_string()),
        ("OS", platform.os().to_owned()),
        ("ARCH", platform.arch().to_owned()),
        ("VARIANT", variant.to_owned()),
    ]
    .into_iter()
    .flat_map(|(suffix, value)| {
        [
            (format!("TARGET{suffix}"), value.clone()),
            (format!("BUILD{suffix}"), value),
        ]
    })
    .collect()
}

/// One pass over the lexed file with one set of build args and named contexts.
fn pass(
    file: &SourceFile,
    text: &str,
    lexed: &lexer::Lexed,
    args: &BTreeMap<String, String>,
    contexts: &BTreeMap<String, NamedContext>,
) -> (Vec<Occurrence>, Vec<Problem>, HashMap<Range<usize>, String>) {
    let mut parser = Parser::new(file, text, args, contexts, lexed.escape);
    for (offset, message) in &lexed.problems {
        parser.problem(*offset, message.clone());
    }
    if let Some(syntax) = lexed.directives.iter().find(|d| d.name == "syntax") {
        parser.syntax(syntax.value.clone());
    }
    parser.all_stages = lexed.instructions.iter().filter_map(stage_name).collect();
    for instruction in &lexed.instructions {
        match instruction.keyword.as_str() {
            "from" => parser.from(instruction),
            "arg" => parser.arg(instruction),
            "copy" | "add" | "run" => parser.flags(instruction),
            _ => {}
        }
    }
    (parser.occurrences, parser.problems, parser.platform_written)
}

/// The occurrences and problems of every pass, each distinct one once.
#[derive(Default)]
struct Merged {
    occurrences: Vec<Occurrence>,
    problems: Vec<Problem>,
}

impl Merged {
    fn add(
        &mut self,
        occurrences: Vec<Occurrence>,
        problems: Vec<Problem>,
        platforms: &HashMap<Range<usize>, String>,
    ) {
        for occurrence in occurrences {
            let same = self.occurrences.iter_mut().find(|o| {
                o.location.span == occurrence.location.span
                    && o.context == occurrence.context
                    && o.resolution == occurrence.resolution
            });
            match same {
                // The same image on several platforms: its `--platform` is the text as written.
                Some(same) if same.platform != occurrence.platform => {
                    same.platform = platforms.get(&same.location.span).cloned();
                }
                Some(_) => {}
                None => self.occurrences.push(occurrence),
            }
        }
        for problem in problems {
            if !self.problems.contains(&problem) {
                self.problems.push(problem);
            }
        }
    }
}

/// The inline waiver comments of a Dockerfile. A Dockerfile comment is a whole line
/// starting with `#` (a `#` later on a line is an argument, or the shell's business in
/// `RUN`), and heredoc bodies are data; so an inline waiver stands alone above the
/// instruction it concerns (among other comment lines, if any) and covers every line of
/// that instruction. One inside a multi-line instruction concerns nothing.
pub(crate) fn inline_comments(file: &SourceFile, text: &str) -> Vec<InlineComment> {
    let lexed = lexer::lex(text);
    let index = LineIndex::new(text);
    let line = |offset: usize| index.line_col(offset).0;
    let instructions: BTreeMap<u32, u32> = lexed
        .instructions
        .iter()
        .map(|i| {
            let end = i.logical.orig(i.logical.text.len());
            (line(i.start), line(end).max(line(i.start)))
        })
        .collect();
    // The first line below each comment that is not a comment line, from the bottom up so
    // a long run of comment lines costs one pass.
    let mut below_of: BTreeMap<u32, u32> = BTreeMap::new();
    for range in lexed.comments.iter().rev() {
        let own = line(range.start);
        let below = below_of.get(&(own + 1)).copied().unwrap_or(own + 1);
        below_of.insert(own, below);
    }
    let mut out = Vec::new();
    for range in &lexed.comments {
        let below = below_of[&line(range.start)];
        #[allow(clippy::reversed_empty_ranges)]
        let lines = instructions.get(&below).map_or(1..=0, |&last| below..=last);
        out.extend(inline::read(
            &file.rel,
            &index,
            text,
            range.start,
            range.end,
            lines,
        ));
    }
    out
}

/// The `AS name` of a `FROM`, lower-cased as `BuildKit` compares stage names.
fn stage_name(instruction: &Instruction) -> Option<String> {
    if instruction.keyword != "from" {
        return None;
    }
    let (_, rest) = extract_flags(&instruction.logical, instruction.args_start);
    let logical = &instruction.logical;
    let args: Vec<&str> = split_whitespace(logical, rest)
        .into_iter()
        .map(|r| &logical.text[r])
        .collect();
    match args.as_slice() {
        [_, r#as, name] if r#as.eq_ignore_ascii_case("as") => Some(name.to_lowercase()),
        _ => None,
    }
}

struct Parser<'a> {
    file: &'a SourceFile,
    text: &'a str,
    index: LineIndex<'a>,
    /// Build args of this pass: platform values, then the build definition's, then
    /// `--build-arg`.
    args: &'a BTreeMap<String, String>,
    /// Named build contexts of this pass.
    contexts: &'a BTreeMap<String, NamedContext>,
    escape: char,
    global: BTreeMap<String, Var>,
    stage: BTreeMap<String, Var>,
    in_stage: bool,
    /// Stage names defined so far (what `FROM` may refer to).
    earlier_stages: BTreeSet<String>,
    /// Every stage name in the file (what `--from` may refer to).
    all_stages: BTreeSet<String>,
    occurrences: Vec<Occurrence>,
    problems: Vec<Problem>,
    /// The `--platform=` text as written, by the span of the `FROM` image it applies to.
    platform_written: HashMap<Range<usize>, String>,
}

impl<'a> Parser<'a> {
    fn new(
        file: &'a SourceFile,
        text: &'a str,
        args: &'a BTreeMap<String, String>,
        contexts: &'a BTreeMap<String, NamedContext>,
        escape: char,
    ) -> Self {
        let global = PLATFORM_ARGS
            .iter()
            .map(|&name| {
                let value = args.get(name).cloned().ok_or_else(|| name.to_owned());
                (
                    name.to_owned(),
                    Var {
                        value,
                        literal: None,
                    },
                )
            })
            .collect();
        Self {
            file,
            text,
            index: LineIndex::new(text),
            args,
            contexts,
            escape,
            global,
            stage: BTreeMap::new(),
            in_stage: false,
            earlier_stages: BTreeSet::new(),
            all_stages: BTreeSet::new(),
            occurrences: Vec::new(),
            problems: Vec::new(),
            platform_written: HashMap::new(),
        }
    }

    fn problem(&mut self, offset: usize, message: String) {
        self.problem_of(ProblemKind::FileInvalid, offset, message);
    }

    /// Records a value in an image position that is not a valid reference.
    fn bad_reference(&mut self, offset: usize, message: String) {
        self.problem_of(ProblemKind::ReferenceInvalid, offset, message);
    }

    fn problem_of(&mut self, kind: ProblemKind, offset: usize, message: String) {
        let (line, column) = self.index.line_col(offset);
        self.problems.push(Problem {
            kind,
            file: self.file.rel.clone(),
            line: Some(line),
            column: Some(column),
            message,
        });
    }

    fn vars(&self, scope: Scope) -> &BTreeMap<String, Var> {
        match scope {
            Scope::Global => &self.global,
            Scope::Stage => &self.stage,
        }
    }

    fn expand(&self, word: &Piece, scope: Scope) -> Result<Expanded, String> {
        let vars = self.vars(scope);
        let lookup = |name: &str| match vars.get(name) {
            Some(Var { value: Ok(v), .. }) => Lookup::Value(v.clone()),
            Some(Var {
                value: Err(root), ..
            }) => Lookup::NoValue(root.clone()),
            None => Lookup::Undeclared,
        };
        expand(word, self.escape, &lookup)
    }

    /// `# syntax=<image>`: the `BuildKit` frontend image.
    fn syntax(&mut self, span: Range<usize>) {
        let value = &self.text[span.clone()];
        match ImageRef::parse(value) {
            Ok(image) => self.occurrences.push(Occurrence {
                location: self.index.location(&self.file.rel, span.clone()),
                text: value.to_owned(),
                resolution: Resolution::Image(image),
                context: Context::DockerfileSyntax,
                platform: None,
                literal: Some(Literal {
                    span,
                    text: value.to_owned(),
                    form: LiteralForm::Reference,
                }),
            }),
            Err(err) => self.bad_reference(span.start, err.to_string()),
        }
    }

    fn from(&mut self, instruction: &Instruction) {
        let (flags, rest) = extract_flags(&instruction.logical, instruction.args_start);
        let mut platform = None;
        let mut platform_written = None;
        for word in &flags {
            if let Some(("platform", value)) = flag(word) {
                platform_written = Some(value.text.clone());
                // `$BUILDPLATFORM`-style values stay as written: they are not known here.
                platform = Some(match self.expand(&value, Scope::Global) {
                    Ok(e) if e.unresolved.is_none() => e.value.text,
                    _ => value.text.clone(),
                });
            }
        }
        self.in_stage = true;
        self.stage.clear();
        let logical = &instruction.logical;
        let ranges = split_whitespace(logical, rest);
        let args: Vec<&str> = ranges.iter().map(|r| &logical.text[r.clone()]).collect();
        let Some(first) = ranges.first() else {
            self.problem(instruction.start, "`FROM` needs an image".to_owned());
            return;
        };
        let well_formed = args.len() == 1 || args.len() == 3 && args[1].eq_ignore_ascii_case("as");
        if !well_formed {
            let message = format!(
                "`FROM` expects `image [AS name]`, found {} words",
                args.len()
            );
            self.problem(instruction.start, message);
        }
        let image = Piece::from_logical(logical, first.clone());
        if let (Some(written), Some(span)) = (platform_written, image.extent()) {
            self.platform_written.insert(span, written);
        }
        self.reference(
            &image,
            Scope::Global,
            Context::DockerfileFrom,
            platform,
            instruction.start,
        );
        if let [_, _, name] = args.as_slice() {
            self.earlier_stages.insert(name.to_lowercase());
        }
    }

    fn arg(&mut self, instruction: &Instruction) {
        let scope = if self.in_stage {
            Scope::Stage
        } else {
            Scope::Global
        };
        for word in split_quoted(&instruction.logical, instruction.args_start, self.escape) {
            let (name, default) = match word.text.find('=') {
                Some(eq) => (
                    word.text[..eq].to_owned(),
                    Some(word.slice(eq + 1..word.text.len())),
                ),
                None => (word.text.clone(), None),
            };
            if name.is_empty() {
                self.problem(word.src[0], format!("`ARG {}`: missing name", word.text));
                continue;
            }
            let var = if let Some(value) = self.args.get(&name) {
                Var {
                    value: Ok(value.clone()),
                    literal: None,
                }
            } else if let Some(default) = default {
                match self.expand(&default, scope) {
                    Ok(e) => {
                        let literal = if e.uses_variables {
                            None
                        } else {
                            e.value.verbatim(self.text).map(|span| Literal {
                                span,
                                text: e.value.text.clone(),
                                form: LiteralForm::Reference,
                            })
                        };
                        Var {
                            value: e.unresolved.map_or(Ok(e.value.text), Err),
                            literal,
                        }
                    }
                    Err(message) => {
                        self.problem(word.src[0], format!("`{}`: {message}", word.text));
                        Var {
                            value: Err(name.clone()),
                            literal: None,
                        }
                    }
                }
            } else {
                // `ARG NAME` in a stage takes the global value; globally it has none.
                self.global.get(&name).cloned().unwrap_or(Var {
                    value: Err(name.clone()),
                    literal: None,
                })
            };
            match scope {
                Scope::Global => self.global.insert(name, var),
                Scope::Stage => self.stage.insert(name, var),
            };
        }
    }

    /// `COPY/ADD --from=` and `--mount=…,from=`.
    fn flags(&mut self, instruction: &Instruction) {
        let (flags, _) = extract_flags(&instruction.logical, instruction.args_start);
        for word in &flags {
            match flag(word) {
                Some(("from", value)) if instruction.keyword != "run" && !value.text.is_empty() => {
                    self.reference(
                        &value,
                        Scope::Stage,
                        Context::DockerfileCopyFrom,
                        None,
                        instruction.start,
                    );
                }
                Some(("mount", value)) => {
                    for field in csv_fields(&value) {
                        let Some(eq) = field.text.find('=') else {
                            continue;
                        };
                        if field.text[..eq].eq_ignore_ascii_case("from")
                            && eq + 1 < field.text.len()
                        {
                            let value = field.slice(eq + 1..field.text.len());
                            self.reference(
                                &value,
                                Scope::Stage,
                                Context::DockerfileRunMount,
                                None,
                                instruction.start,
                            );
                        }
                    }
                }
                _ => {}
            }
        }
    }

    /// Records the image reference written as `word`, unless it names a stage or `scratch`.
    fn reference(
        &mut self,
        word: &Piece,
        scope: Scope,
        context: Context,
        platform: Option<String>,
        fallback: usize,
    ) {
        let span = word.extent().unwrap_or(fallback..fallback);
        if word.text.len() > MAX_REFERENCE_LEN {
            let start: String = word.text.chars().take(40).collect();
            let message = format!(
                "`{start}…`: image reference is {} bytes long",
                word.text.len()
            );
            return self.bad_reference(span.start, message);
        }
        let written = &self.text[span.clone()];
        let text = if written.contains('\n') {
            word.text.clone()
        } else {
            written.to_owned()
        };
        let expanded = match self.expand(word, scope) {
            Ok(e) => e,
            Err(message) => return self.bad_reference(span.start, format!("`{text}`: {message}")),
        };
        let resolution = if let Some(variable) = expanded.unresolved.clone() {
            Resolution::Unresolved { variable }
        } else {
            let value = &expanded.value.text;
            let is_stage = if context == Context::DockerfileFrom {
                self.earlier_stages.contains(&value.to_lowercase())
            } else {
                self.all_stages.contains(&value.to_lowercase())
                    || !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit())
            };
            if is_stage || value == "scratch" {
                return;
            }
            match self.contexts.get(value) {
                // A named context replaces the name, as `BuildKit` does: the image it names
                // is written in the build definition, where `pin` edits it.
                Some(NamedContext::Image(image)) => {
                    return self.occurrences.push(Occurrence {
                        location: self.index.location(&self.file.rel, span),
                        text,
                        resolution: Resolution::Image(image.clone()),
                        context,
                        platform,
                        literal: None,
                    });
                }
                Some(NamedContext::Unresolved(variable)) => {
                    return self.occurrences.push(Occurrence {
                        location: self.index.location(&self.file.rel, span),
                        text,
                        resolution: Resolution::Unresolved {
                            variable: variable.clone(),
                        },
                        context,
                        platform,
                        literal: None,
                    });
                }
                Some(NamedContext::Local(_) | NamedContext::Target(_)) => return,
                None => {}
            }
            match ImageRef::parse(value) {
                Ok(image) => Resolution::Image(image),
                Err(err) => {
                    let message = if *value == text {
                        err.to_string()
                    } else {
                        format!("`{text}` expands to `{value}`: {err}")
                    };
                    return self.bad_reference(span.start, message);
                }
            }
        };
        let literal = if expanded.uses_variables {
            single_variable(&word.text)
                .and_then(|name| self.vars(scope).get(name))
                .and_then(|var| var.literal.clone())
        } else {
            expanded.value.verbatim(self.text).map(|span| Literal {
                span,
                text: expanded.value.text.clone(),
                form: LiteralForm::Reference,
            })
        };
        self.occurrences.push(Occurrence {
            location: self.index.location(&self.file.rel, span),
            text,
            resolution,
            context,
            platform,
            literal,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uses(text: &str) -> bool {
        references_use_platform_args(&lexer::lex(text))
    }

    #[test]
    fn only_args_that_can_change_a_reference_need_a_pass_per_platform() {
        // Written where a reference can depend on it.
        assert!(uses("FROM golang:1.22-$TARGETARCH\n"));
        assert!(uses("FROM bin-${TARGETOS} AS out\n"));
        assert!(uses("ARG BASE=img-$TARGETARCH\nFROM $BASE\n"));
        assert!(uses("FROM a AS b\nCOPY --from=tools-$TARGETARCH /x /x\n"));
        assert!(uses(
            "FROM a\nRUN --mount=type=bind,from=cache-$BUILDARCH,target=/c true\n"
        ));
        // Written only where no reference can depend on it.
        assert!(!uses(
            "FROM --platform=$BUILDPLATFORM golang:1.22\nARG TARGETARCH\nRUN GOARCH=$TARGETARCH go build\n"
        ));
        assert!(!uses(
            "FROM alpine\nENV ARCH=$TARGETARCH\nCOPY a-$TARGETOS /a\n"
        ));
    }
}
