use super::*;

fn address_error(text: &str) -> String {
    let e = validate_team_address(text).unwrap_err();
    assert_eq!(e.path, "address", "{text}: {e}");
    e.message
}

#[test]
fn a_password_in_the_address_is_refused_saying_how_to_sign_in() {
    for text in [
        "postgres://seat_jsmith:hunter2@db.example.nhs.uk/stepdown",
        "postgresql://seat:@db/stepdown",
        "postgres://db.example.nhs.uk/stepdown?sslmode=verify-full&password=hunter2",
        "postgres://db/stepdown?PASSWORD=x",
    ] {
        let m = address_error(text);
        assert!(m.contains("Remove the password"), "{m}");
        assert!(m.contains("when you sign in"), "{m}");
        assert!(!m.contains("hunter2"), "the password is never echoed: {m}");
    }
    // And so it can never be written to the file.
    let e = choice_file_text(&StoreChoice::Team {
        address: "postgres://u:pw@db/stepdown".into(),
        role: None,
    })
    .unwrap_err();
    assert_eq!(e[0].path, "address");
}

#[test]
fn other_schemes_and_plain_text_are_refused_by_name() {
    assert!(address_error("mysql://db/stepdown").contains("got mysql://"));
    assert!(address_error("https://db.example/stepdown").contains("postgres://"));
    assert!(address_error("/home/me/stepdown.db").contains("This computer"));
    assert!(address_error("  ").contains("Enter the team store's address"));
    assert!(address_error("postgres://db/x y").contains("without spaces"));
}

#[test]
fn ports_must_be_numbers_from_1_to_65535() {
    for (text, got) in [
        ("postgres://db:abc/stepdown", "\"abc\""),
        ("postgres://db:0/stepdown", "\"0\""),
        ("postgres://db:70000/stepdown", "\"70000\""),
        ("postgres://db/stepdown?port=5x", "\"5x\""),
        ("postgres://[::1]:99999/stepdown", "\"99999\""),
    ] {
        let m = address_error(text);
        assert!(m.contains("from 1 to 65535"), "{text}: {m}");
        assert!(m.contains(got), "{text}: {m}");
    }
    for ok in [
        "postgres://db:5432/stepdown",
        "postgres://[::1]:5433/stepdown",
        "postgres://db/stepdown?port=6543",
    ] {
        validate_team_address(ok).unwrap();
    }
}

#[test]
fn the_server_and_database_must_be_named() {
    assert!(address_error("postgres:///stepdown").contains("Name the server"));
    assert!(address_error("postgres://seat_jsmith@/stepdown").contains("Name the server"));
    assert!(address_error("postgres://db.example.nhs.uk").contains("Name the database"));
    assert!(address_error("postgres://db.example.nhs.uk/").contains("Name the database"));
    // A socket folder (host=) and dbname= are as good.
    validate_team_address("postgresql:///stepdown?host=/run/postgresql").unwrap();
    validate_team_address("postgres://db?dbname=stepdown").unwrap();
}

#[test]
fn tls_settings_are_read_as_the_store_reads_them() {
    let ok = "postgres://seat_jsmith@stepdown-db.example.nhs.uk:5432/stepdown?sslmode=verify-full&sslrootcert=/etc/ca.pem";
    assert_eq!(validate_team_address(&format!("  {ok} ")).unwrap(), ok);
    assert!(address_error("postgres://db/stepdown?sslmode=sometimes").contains("sslmode"));
    assert!(address_error("postgres://db/stepdown?sslcert=/c.pem").contains("sslcert"));
}

#[test]
fn a_db_value_is_a_team_address_or_else_a_file() {
    assert_eq!(
        parse_location("/home/me/stepdown.db").unwrap(),
        Location::File("/home/me/stepdown.db".into())
    );
    assert_eq!(
        parse_location("C:\\Users\\me\\stepdown.db").unwrap(),
        Location::File("C:\\Users\\me\\stepdown.db".into())
    );
    // --db keeps taking a password, for tests and automation.
    assert_eq!(
        parse_location("postgres://u:pw@db/x").unwrap(),
        Location::Team("postgres://u:pw@db/x".into())
    );
    let e = parse_location("mysql://db/x").unwrap_err();
    assert_eq!(e.path, "db");
    assert!(e.message.contains("mysql://"), "{e}");
    assert!(parse_location(" ").is_err());
}

#[test]
fn db_and_stepdown_db_decide_over_the_saved_choice() {
    let local = Path::new("/data/stepdown.db");
    let team = StoreChoice::Team {
        address: "postgres://db/stepdown".into(),
        role: Some("seat_alice".into()),
    };
    let flag = std::ffi::OsStr::new("/tmp/flag.db");
    let env = std::ffi::OsStr::new("postgres://u:pw@db/x");
    assert_eq!(
        start_up(Some(flag), Some(env), &team, local),
        StartUp::Open {
            location: "/tmp/flag.db".into(),
            source: ChoiceSource::Flag
        }
    );
    assert_eq!(
        start_up(None, Some(env), &team, local),
        StartUp::Open {
            location: "postgres://u:pw@db/x".into(),
            source: ChoiceSource::Env
        }
    );
    assert_eq!(
        start_up(None, Some(std::ffi::OsStr::new("")), &team, local),
        StartUp::SignIn {
            address: "postgres://db/stepdown".into()
        },
        "an empty STEPDOWN_DB is unset"
    );
    assert_eq!(
        start_up(None, None, &StoreChoice::Local, local),
        StartUp::Open {
            location: local.into(),
            source: ChoiceSource::Default
        }
    );
}

#[test]
fn sign_ins_need_a_role() {
    let e = validate_sign_in(&SignIn::default()).unwrap_err();
    assert_eq!(e[0].path, "role");
    let e = validate_sign_in(&SignIn {
        role: "x".repeat(64),
        password: String::new(),
    })
    .unwrap_err();
    assert!(e[0].message.contains("63"), "{:?}", e);
    validate_sign_in(&SignIn {
        role: "seat_alice".into(),
        password: String::new(),
    })
    .unwrap();
    let shown = format!(
        "{:?}",
        SignIn {
            role: "seat_alice".into(),
            password: "hunter2".into()
        }
    );
    assert!(!shown.contains("hunter2"), "{shown}");
}

#[test]
fn the_choice_file_round_trips_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config").join(CHOICE_FILE_NAME);
    assert_eq!(
        load(&path),
        Loaded {
            choice: StoreChoice::Local,
            problem: None
        },
        "no file: the store on this computer"
    );
    let team = StoreChoice::Team {
        address: "postgres://stepdown-db.example.nhs.uk/stepdown?sslmode=verify-full".into(),
        role: Some("seat_alice".into()),
    };
    save(&path, &team).unwrap();
    assert_eq!(load(&path).choice, team);
    assert_eq!(load(&path).problem, None);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("\"format\": \"stepdown-store-choice\""),
        "{text}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    save(&path, &StoreChoice::Local).unwrap();
    assert_eq!(load(&path).choice, StoreChoice::Local);
    let left: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
    assert_eq!(left.len(), 1, "no temporary file left: {left:?}");
}

#[test]
fn a_password_is_never_saved() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(CHOICE_FILE_NAME);
    save(&path, &StoreChoice::Local).unwrap();
    let before = std::fs::read(&path).unwrap();
    let e = save(
        &path,
        &StoreChoice::Team {
            address: "postgres://seat:hunter2@db/stepdown".into(),
            role: None,
        },
    )
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidInput);
    assert_eq!(e.fields[0].path, "address");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the file is unchanged"
    );
}

#[test]
fn a_corrupt_choice_file_falls_back_to_this_computer_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(CHOICE_FILE_NAME);
    for (bytes, says) in [
        (&b"{\"format\": \"stepdown-store-choice\", \"version\": 1, \"store\": {\"kind\": \"te"[..], "not a Stepdown store choice"),
        (&b"\xff\xfe not text"[..], "cannot be read"),
        (&b"{\"something\": \"else\"}"[..], "no \"format\""),
        (&b"{\"format\": \"stepdown-store-choice\", \"version\": 9, \"store\": {\"kind\": \"local\"}}"[..], "newer Stepdown"),
        (&b"{\"format\": \"stepdown-store-choice\", \"version\": 1, \"store\": {\"kind\": \"cloud\"}}"[..], "not a Stepdown store choice"),
        (&b"{\"format\": \"stepdown-store-choice\", \"version\": 1, \"store\": {\"kind\": \"team\", \"address\": \"postgres://u:pw@db/x\"}}"[..], "Remove the password"),
    ] {
        std::fs::write(&path, bytes).unwrap();
        let loaded = load(&path);
        assert_eq!(loaded.choice, StoreChoice::Local);
        let problem = loaded.problem.expect("the problem is said");
        assert!(problem.contains(says), "{problem}");
        assert!(problem.contains(&path.display().to_string()), "{problem}");
        assert!(problem.contains("left the file as it is"), "{problem}");
        assert!(!problem.contains("pw@"), "{problem}");
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "the file is untouched");
    }
}

#[test]
fn open_failures_name_the_field_to_fix() {
    let server = "postgres://db/stepdown".to_string();
    let e = open_failure(
        StoreError::AuthenticationFailed {
            server: server.clone(),
            detail: "password authentication failed for user \"seat_alice\"".into(),
        },
        &server,
    );
    assert_eq!(e.code, ErrorCode::Storage);
    assert_eq!(e.fields[0].path, "password");
    assert!(
        e.message.contains("wrong role or password"),
        "{}",
        e.message
    );
    let e = open_failure(
        StoreError::ServerUnreachable {
            server: server.clone(),
            detail: "error performing TLS handshake: certificate verify failed".into(),
        },
        &server,
    );
    assert_eq!(e.fields[0].path, "address");
    assert!(
        e.message.contains("secure connection (TLS)"),
        "{}",
        e.message
    );
    let e = open_failure(
        StoreError::ServerUnreachable {
            server: server.clone(),
            detail: "Connection refused".into(),
        },
        &server,
    );
    assert!(
        e.message.starts_with("Cannot reach the server"),
        "{}",
        e.message
    );
    let e = open_failure(
        StoreError::NewerVersion {
            path: server.clone().into(),
            found: 99,
            supported: 4,
        },
        &server,
    );
    assert!(e.fields.is_empty());
    assert!(
        e.message.contains("newer version of Stepdown"),
        "{}",
        e.message
    );
}

#[test]
fn switching_to_this_computer_opens_the_local_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("data").join("stepdown.db");
    let (store, _) = open_choice(&StoreChoice::Local, None, &file).unwrap();
    assert_eq!(store.path(), file);
    assert!(store.signed_in_role().unwrap().is_none());
}

#[test]
fn a_team_choice_is_checked_before_any_connection() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stepdown.db");
    let team = |address: &str| StoreChoice::Team {
        address: address.into(),
        role: None,
    };
    let e = open_choice(&team("postgres://u:pw@db/x"), None, &file).unwrap_err();
    assert_eq!(e.fields[0].path, "address");
    let e = open_choice(&team("postgres://db.invalid/x"), None, &file).unwrap_err();
    assert_eq!(e.fields[0].path, "role", "no role, no connection: {e:?}");
    assert!(!file.exists(), "the local store is not touched");
}

/// The cluster's sign-in database, where roles need their passwords
/// (tests/pg/cluster.sh), with `schema` on the search path.
#[cfg(test)]
fn signin_address(base: &str, schema: &str) -> String {
    let base = base.replacen("/stepdown_test?", "/stepdown_signin?", 1);
    let kept: Vec<&str> = base
        .split('&')
        .filter(|kv| !kv.starts_with("user="))
        .collect();
    format!("{}&options=-csearch_path%3D{schema}", kept.join("&"))
}

#[test]
fn signing_in_to_a_team_store_checks_the_role_and_password() {
    super::super::test_pg::on_pg(|| {
        let base = super::super::test_pg::pg_url().unwrap();
        let schema = format!("choice_{}", std::process::id());
        let owner = "stepdown_test_owner";
        let owner_url = format!("{}&user={owner}", signin_address(&base, &schema));
        let mut admin = postgres::Client::connect(&owner_url, postgres::NoTls)
            .expect("the sign-in database (tests/pg/cluster.sh makes it)");
        admin
            .batch_execute(&format!(
                "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
            ))
            .unwrap();
        // The administrator makes the store (the owner signs in there by trust).
        drop(Store::open(&owner_url).expect("the owner makes the store"));
        let address = signin_address(&base, &schema);
        let choice = StoreChoice::Team {
            address: address.clone(),
            role: None,
        };
        let dir = tempfile::tempdir().unwrap();
        let local = dir.path().join("stepdown.db");
        let sign_in = |password: &str| SignIn {
            role: "seat_alice".into(),
            password: password.into(),
        };

        let (store, reopen) =
            open_choice(&choice, Some(&sign_in("seat_alice-test-password")), &local)
                .expect("the right password");
        assert_eq!(
            store.signed_in_role().unwrap().as_deref(),
            Some("seat_alice")
        );
        assert!(!store.path().display().to_string().contains("test-password"));
        let again = reopen
            .open()
            .expect("a second connection, signed in the same way");
        assert_eq!(
            again.signed_in_role().unwrap().as_deref(),
            Some("seat_alice")
        );
        assert!(
            !format!("{reopen:?}").contains("test-password"),
            "{reopen:?}"
        );

        let e = open_choice(&choice, Some(&sign_in("wrong")), &local).unwrap_err();
        assert_eq!(e.fields[0].path, "password", "{e:?}");
        assert!(
            e.message.contains("wrong role or password"),
            "{}",
            e.message
        );
        assert!(!e.message.contains("wrong\""), "{}", e.message);

        let empty = StoreChoice::Team {
            address: signin_address(&base, "no_store_here"),
            role: None,
        };
        let e =
            open_choice(&empty, Some(&sign_in("seat_alice-test-password")), &local).unwrap_err();
        assert_eq!(e.fields[0].path, "address", "{e:?}");
        assert!(
            e.message.contains("no Stepdown store there yet"),
            "{}",
            e.message
        );

        let gone = StoreChoice::Team {
            address: "postgresql:///stepdown?host=/nonexistent-dir&connect_timeout=2".into(),
            role: None,
        };
        let e = open_choice(&gone, Some(&sign_in("x")), &local).unwrap_err();
        assert_eq!(e.fields[0].path, "address", "{e:?}");
        assert!(
            e.message.starts_with("Cannot reach the server"),
            "{}",
            e.message
        );
        assert!(!local.exists(), "the local store is not touched");
        admin
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            .unwrap();
    });
}
