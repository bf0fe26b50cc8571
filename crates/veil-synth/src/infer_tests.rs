//! Unit and property tests for [`super`].

use proptest::prelude::*;

use super::*;

fn read(csv: &str, options: &ReadOptions) -> Result<(Table, TableSchema)> {
    read_table(csv.as_bytes(), options)
}

#[test]
fn infers_every_kind() {
    let csv = "i,f,b,c,d,t,z\n1,1.5,true,x,2024-01-01,2024-01-01T10:00:00,007\n-2,3,FALSE,y,2024-02-01,2024-01-02T11:00:00,008\n";
    let (table, schema) = read(csv, &ReadOptions::default()).unwrap();
    let kinds: Vec<ColumnKind> = schema.columns.iter().map(|c| c.kind).collect();
    use ColumnKind::*;
    assert_eq!(
        kinds,
        [
            Integer,
            Float,
            Boolean,
            Categorical,
            Datetime,
            Datetime,
            Categorical
        ]
    );
    assert_eq!(
        table.column("f").unwrap().data,
        ColumnData::Float {
            values: vec![Some(1.5), Some(3.0)],
            decimals: 1
        }
    );
    assert!(matches!(
        table.column("t").unwrap().data,
        ColumnData::Datetime {
            format: DatetimeFormat::DateTimeT,
            ..
        }
    ));
}

#[test]
fn missing_tokens_are_missing_and_counted() {
    let options = ReadOptions {
        missing_tokens: vec!["?".into(), "NA".into()],
        ..ReadOptions::default()
    };
    let (table, schema) = read("a,b\n1,?\nNA,x\n,y\n4,y\n", &options).unwrap();
    assert_eq!(
        table.column("a").unwrap().data,
        ColumnData::Integer(vec![Some(1), None, None, Some(4)])
    );
    assert_eq!(schema.column("a").unwrap().missing_rate, 0.5);
    assert_eq!(schema.column("b").unwrap().missing_rate, 0.25);
    let (_, schema) = read("a\n?\n1\n", &ReadOptions::default()).unwrap();
    assert_eq!(schema.column("a").unwrap().kind, ColumnKind::Categorical);
}

#[test]
fn identifiers_are_excluded_by_name_and_by_distinct_values() {
    let mut csv = String::from("customerId,serial,code,weight,group\n");
    for row in 0..60 {
        csv += &format!(
            "{row},{},c{row},{},g{}\n",
            1000 + row,
            5000 + row * 997,
            row % 3
        );
    }
    let (_, schema) = read(&csv, &ReadOptions::default()).unwrap();
    let excluded = |name: &str| schema.column(name).unwrap().excluded.clone();
    assert_eq!(excluded("customerId"), Some(Exclusion::IdentifierName));
    assert_eq!(
        excluded("serial"),
        Some(Exclusion::DistinctValues { ratio: 1.0 })
    );
    assert_eq!(
        excluded("code"),
        Some(Exclusion::DistinctValues { ratio: 1.0 })
    );
    assert_eq!(
        excluded("weight"),
        None,
        "sparse distinct integers are measurements"
    );
    assert_eq!(excluded("group"), None);
}

#[test]
fn small_columns_are_not_identifiers_by_distinct_values() {
    let (_, schema) = read("code\na\nb\nc\n", &ReadOptions::default()).unwrap();
    assert_eq!(schema.columns[0].excluded, None);
}

#[test]
fn identifier_names() {
    for name in [
        "id",
        "ID",
        "uuid",
        "user_id",
        "Record ID",
        "order-id",
        "customerId",
        "customerID",
    ] {
        assert!(is_identifier_name(name), "{name}");
    }
    for name in ["paid", "idea", "valid", "Id2", "IDENTITY"] {
        assert!(!is_identifier_name(name), "{name}");
    }
}

#[test]
fn overrides_set_kind_and_exclusion_and_name_unknown_columns() {
    let options = ReadOptions {
        overrides: vec![
            ColumnOverride {
                name: "id".into(),
                kind: None,
                exclude: false,
            },
            ColumnOverride {
                name: "n".into(),
                kind: Some(ColumnKind::Float),
                exclude: true,
            },
        ],
        ..ReadOptions::default()
    };
    let (table, schema) = read("id,n\n1,2\n", &options).unwrap();
    assert_eq!(schema.column("id").unwrap().excluded, None);
    assert_eq!(
        schema.column("n").unwrap().excluded,
        Some(Exclusion::Override)
    );
    assert_eq!(table.column("n").unwrap().kind(), ColumnKind::Float);

    let options = ReadOptions {
        overrides: vec![ColumnOverride {
            name: "nope".into(),
            kind: None,
            exclude: true,
        }],
        ..ReadOptions::default()
    };
    let error = read("id,n\n1,2\n", &options).unwrap_err();
    assert_eq!(
        error.to_string(),
        "override names unknown column \"nope\" (columns: id, n)"
    );
}

#[test]
fn a_value_that_does_not_fit_an_overridden_kind_names_row_and_column() {
    let options = ReadOptions {
        overrides: vec![ColumnOverride {
            name: "n".into(),
            kind: Some(ColumnKind::Integer),
            exclude: false,
        }],
        ..ReadOptions::default()
    };
    let error = read("m,n\nx,1\ny,2\nz,2.5\n", &options).unwrap_err();
    assert_eq!(
        error.to_string(),
        "row 3, column \"n\": the value is not a valid integer (values are not shown)"
    );
    assert!(
        !error.to_string().contains("2.5"),
        "private values stay out of errors"
    );
}

#[test]
fn non_finite_and_signed_numbers() {
    assert_eq!(
        infer_kind(["inf", "1"].into_iter()),
        ColumnKind::Categorical
    );
    assert_eq!(infer_kind(["NaN"].into_iter()), ColumnKind::Categorical);
    assert_eq!(infer_kind(["+1", "2"].into_iter()), ColumnKind::Float);
    assert_eq!(infer_kind(["1e3", "-2"].into_iter()), ColumnKind::Float);
    assert_eq!(
        infer_kind(["99999999999999999999"].into_iter()),
        ColumnKind::Float
    );
    assert_eq!(infer_kind(["0", "1"].into_iter()), ColumnKind::Integer);
}

#[test]
fn read_options_deserialise_with_defaults() {
    let options: ReadOptions = serde_json::from_str(
        r#"{"missing_tokens": ["?"], "overrides": [{"name": "a", "kind": "categorical"}]}"#,
    )
    .unwrap();
    assert_eq!(options.identifier_min_rows, 50);
    assert_eq!(options.overrides[0].kind, Some(ColumnKind::Categorical));
    assert!(serde_json::from_str::<ReadOptions>(r#"{"bogus": 1}"#).is_err());
}

fn small_csv() -> impl Strategy<Value = String> {
    let cell = prop_oneof![
        Just(String::new()),
        Just("?".to_string()),
        "-?[0-9]{1,4}",
        "[0-9]{1,3}\\.[0-9]{0,3}",
        "(true|FALSE)",
        "20[0-9]{2}-[01][0-9]-[0-3][0-9]",
        "20[0-9]{2}-[01][0-9]-[0-3][0-9][T ][0-2][0-9]:[0-5][0-9]:[0-5][0-9]",
        "[a-c\" ,\n]{0,4}",
        any::<String>().prop_map(|s| s.chars().take(5).collect()),
    ];
    (1usize..4, proptest::collection::vec(cell, 0..24)).prop_map(|(width, cells)| {
        let mut csv: String = (0..width)
            .map(|c| format!("c{c}"))
            .collect::<Vec<_>>()
            .join(",");
        csv.push('\n');
        for row in cells.chunks(width) {
            let quoted: Vec<String> = row
                .iter()
                .map(|cell| format!("\"{}\"", cell.replace('"', "\"\"")))
                .collect();
            csv += &quoted.join(",");
            csv.push('\n');
        }
        csv
    })
}

proptest! {
    #[test]
    fn inference_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let options = ReadOptions { missing_tokens: vec!["?".into()], identifier_min_rows: 2, ..ReadOptions::default() };
        let _ = read_table(&bytes[..], &options);
    }

    #[test]
    fn inferred_tables_survive_a_write_and_reread(csv in small_csv()) {
        let options = ReadOptions { missing_tokens: vec!["?".into()], identifier_min_rows: 2, ..ReadOptions::default() };
        if let Ok((table, schema)) = read(&csv, &options) {
            prop_assert_eq!(schema.columns.len(), table.columns().len());
            for column in &schema.columns {
                prop_assert!((0.0..=1.0).contains(&column.missing_rate));
            }
            let written = crate::csv_io::write_csv(&table, Vec::new()).unwrap();
            let overrides = schema.columns.iter()
                .map(|c| ColumnOverride { name: c.name.clone(), kind: Some(c.kind), exclude: false })
                .collect();
            let reread = read_table(&written[..], &ReadOptions { overrides, ..options.clone() });
            let (again, _) = reread.unwrap();
            prop_assert_eq!(again.row_count(), table.row_count());
        }
    }
}
