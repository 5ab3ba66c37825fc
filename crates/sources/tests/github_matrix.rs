//! GitHub workflow matrices end to end through `portcullis_sources::collect`: container and
//! service images written with `${{ matrix.… }}` are expanded per combination, each reported
//! at the matrix value it takes (what `pin` would edit when that value is the whole image).

use std::fmt::Write as _;
use std::fs;

use portcullis_sources::{collect, Collected, DiscoverOptions, ParseOptions, Resolution};

fn run(workflow: &str) -> (Collected, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".github/workflows/ci.yml");
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, workflow).unwrap();
    let collected = collect(
        dir.path(),
        &DiscoverOptions::default(),
        &ParseOptions::default(),
    )
    .unwrap();
    (collected, workflow.to_owned())
}

/// `line:col context `text` => image [literal]` per occurrence, checking the spans.
fn found(collected: &Collected, text: &str) -> Vec<String> {
    collected
        .occurrences
        .iter()
        .map(|o| {
            assert_eq!(&text[o.location.span.clone()], o.text);
            let image = match &o.resolution {
                Resolution::Image(image) => image.to_string(),
                Resolution::Unresolved { variable } => format!("unresolved {variable}"),
            };
            let mut line = format!(
                "{}:{} {} `{}` => {image}",
                o.location.line,
                o.location.column,
                o.context.as_str(),
                o.text
            );
            if let Some(literal) = &o.literal {
                assert_eq!(&text[literal.span.clone()], literal.text);
                let _ = write!(line, " literal `{}`", literal.text);
            }
            line
        })
        .collect()
}

#[test]
fn matrix_values_expand_in_containers_and_services() {
    let text = concat!(
        "on: push\n",
        "jobs:\n",
        "  test:\n",
        "    strategy:\n",
        "      matrix:\n",
        "        node: [18, 20]\n",
        "        db:\n",
        "          - postgres:15\n",
        "          - postgres:16\n",
        "        exclude:\n",
        "          - node: 18\n",
        "            db: postgres:16\n",
        "        include:\n",
        "          - node: 22\n",
        "            db: postgres:17\n",
        "    container: node:${{ matrix.node }}-alpine\n",
        "    services:\n",
        "      db:\n",
        "        image: ${{ matrix.db }}\n",
        "  objects:\n",
        "    strategy:\n",
        "      matrix:\n",
        "        image:\n",
        "          - {name: redis, tag: '7'}\n",
        "    container:\n",
        "      image: '${{ matrix.image.name }}:${{ matrix.image.tag }}'\n",
    );
    let (collected, text) = run(text);
    assert_eq!(collected.problems, []);
    assert_eq!(
        found(&collected, &text),
        [
            "6:16 github-container `18` => docker.io/library/node:18-alpine",
            "6:20 github-container `20` => docker.io/library/node:20-alpine",
            "8:13 github-service `postgres:15` => docker.io/library/postgres:15 literal `postgres:15`",
            "9:13 github-service `postgres:16` => docker.io/library/postgres:16 literal `postgres:16`",
            "14:19 github-container `22` => docker.io/library/node:22-alpine",
            "15:17 github-service `postgres:17` => docker.io/library/postgres:17 literal `postgres:17`",
            "24:20 github-container `redis` => docker.io/library/redis:7",
        ]
    );
}

#[test]
fn matrices_from_expressions_and_other_expressions_stay_unresolved() {
    let text = concat!(
        "on: push\n",
        "jobs:\n",
        "  dynamic:\n",
        "    strategy:\n",
        "      matrix: ${{ fromJSON(needs.plan.outputs.matrix) }}\n",
        "    container: ${{ matrix.image }}\n",
        "  mixed:\n",
        "    strategy:\n",
        "      matrix: {tag: ['1']}\n",
        "    container: ${{ vars.REGISTRY }}/app:${{ matrix.tag }}\n",
        "  bad:\n",
        "    strategy:\n",
        "      matrix: {tag: ['Bad Tag']}\n",
        "    container: app:${{ matrix.tag }}\n",
    );
    let (collected, text) = run(text);
    assert_eq!(
        found(&collected, &text),
        [
            "6:16 github-container `${{ matrix.image }}` => unresolved ${{ matrix.image }}",
            "10:16 github-container `${{ vars.REGISTRY }}/app:${{ matrix.tag }}` => unresolved ${{ vars.REGISTRY }}",
        ]
    );
    let problems: Vec<_> = collected
        .problems
        .iter()
        .map(|p| (p.line, p.message.as_str()))
        .collect();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].0, Some(13));
    assert!(
        problems[0]
            .1
            .starts_with("`jobs.bad.container` = `app:Bad Tag`: "),
        "{problems:?}"
    );
}
