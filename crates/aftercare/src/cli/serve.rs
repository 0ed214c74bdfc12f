//! `serve` and `demo`: the web server and the demo register.

use std::net::SocketAddr;

use aftercare::services::demo;
use aftercare::web::{AppState, ServerConfig, app};
use std::process::ExitCode;

use anyhow::{Context, Result};

use super::common::*;
use super::*;

/// Loads the demo register into an empty database.
pub async fn demo(database: &str, args: DemoArgs) -> Result<ExitCode> {
    let db = open(database).await?;
    let logins = demo::seed(&db, args.people, args.seed, today()).await?;
    print_logins(&logins);
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn serve(database: &str, args: ServeArgs) -> Result<ExitCode> {
    let addr: SocketAddr = args
        .listen
        .parse()
        .with_context(|| format!("`{}` is not an address such as 127.0.0.1:8117", args.listen))?;
    // Email settings are checked before anything is served.
    let notifier = super::notify::settings_from_env()?;
    let sign_on = match &args.sso {
        Some(path) => aftercare::services::single_sign_on::SignOn::from_file(path)?,
        None => aftercare::services::single_sign_on::SignOn::none(),
    };
    let db = open(database).await?;
    if args.demo {
        let logins = demo::seed(&db, args.demo_people, 117, today()).await?;
        print_logins(&logins);
        if logins.is_empty() {
            println!(
                "The database already holds a register; demo data was not added. Demo accounts, if loaded before, use the password {}.",
                demo::DEMO_PASSWORD
            );
        }
    }
    // HTTPS unless told otherwise: a loopback address is no proof of plain
    // HTTP (a TLS proxy on the same host forwards there). The demo on
    // loopback is the one exception, so it works in a browser at once.
    let plain_http = args.plain_http || (args.demo && addr.ip().is_loopback());
    let config = ServerConfig { secure_cookies: !plain_http, today: None };
    for p in sign_on.providers() {
        println!("Users may sign in with {} ({}).", p.name, p.id);
    }
    let state = AppState::new(db.clone(), config).with_sign_on(sign_on);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("failed to listen on {addr}"))?;
    if plain_http {
        println!("Aftercare is serving {} at http://{addr}/ (plain HTTP)", db.backend());
    } else {
        println!(
            "Aftercare is serving {} on {addr} for HTTPS through a TLS proxy (cookies are Secure; use --plain-http to serve plain HTTP)",
            db.backend()
        );
    }
    // Where the key that authenticates the audit trail lives (not a secret itself).
    println!(
        "Audit records are authenticated with the key in {} (keep a copy apart from the database's backups).",
        aftercare::db::audit::AuditKey::location()?.display()
    );
    match notifier {
        Some(settings) => {
            println!(
                "Task notifications are sent by email every {} s, with links to {}.",
                settings.interval.as_secs(),
                settings.base_url.as_str()
            );
            super::notify::spawn(db.clone(), settings);
        }
        None => println!("Email notifications are off (AFTERCARE_SMTP_HOST is not set)."),
    }
    let limits = aftercare::web::listen::Limits {
        max_connections: args.max_connections,
        header_read_timeout: std::time::Duration::from_secs(args.header_timeout_secs.max(1)),
        request_timeout: std::time::Duration::from_secs(args.request_timeout_secs.max(1)),
        trust_forwarded_for: args.trust_forwarded_for,
    };
    aftercare::web::listen::serve(listener, app(state), limits, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    db.close().await;
    Ok(ExitCode::SUCCESS)
}

pub(super) fn print_logins(logins: &[demo::DemoLogin]) {
    if logins.is_empty() {
        return;
    }
    println!("Demo accounts (password for all: {}):", demo::DEMO_PASSWORD);
    for l in logins {
        println!("  {:<32} {:<24} {}", l.username, l.role.label(), l.org);
    }
    println!(
        "The Kent partnership (Kent County Council E10000016 and NHS Kent and Medway ICB QKS) can be walked end to end: \
         demo-mha-administrator records detention and leaving hospital, demo-lead-professional plans, reviews and proposes ending, \
         demo-council-commissioner and demo-commissioner decide for the council and the ICB, demo-qa-group ratifies where asked, \
         and anyone may ask for reinstatement. demo-bucks-finance sees Buckinghamshire's quarterly invoices under Who pays."
    );
}
