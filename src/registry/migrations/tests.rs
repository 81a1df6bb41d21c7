use super::*;

const V1: &[Migration] = &[Migration {
    version: 1,
    description: "t",
    sql: "CREATE TABLE t (x INTEGER);",
}];
const V2: &[Migration] = &[
    V1[0],
    Migration {
        version: 2,
        description: "t.y",
        sql: "ALTER TABLE t ADD COLUMN y TEXT;",
    },
];

#[test]
fn migrations_apply_once_and_in_order() {
    let mut conn = Connection::open_in_memory().unwrap();
    let v1 = [Component {
        name: "test",
        migrations: V1,
    }];
    apply_components(&mut conn, &v1).unwrap();
    apply_components(&mut conn, &v1).unwrap();
    let v2 = [Component {
        name: "test",
        migrations: V2,
    }];
    apply_components(&mut conn, &v2).unwrap();
    conn.execute("INSERT INTO t (x, y) VALUES (1, 'a')", [])
        .unwrap();
    let applied: u32 = conn
        .query_row("SELECT COUNT(*) FROM schema_migrations", [], |r| r.get(0))
        .unwrap();
    assert_eq!(applied, 2);
}

#[test]
fn a_database_from_a_newer_modelwatch_is_refused() {
    let mut conn = Connection::open_in_memory().unwrap();
    apply_components(
        &mut conn,
        &[Component {
            name: "test",
            migrations: V2,
        }],
    )
    .unwrap();
    let err = apply_components(
        &mut conn,
        &[Component {
            name: "test",
            migrations: V1,
        }],
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("newer") && err.contains("upgrade modelwatch"),
        "{err}"
    );
}
