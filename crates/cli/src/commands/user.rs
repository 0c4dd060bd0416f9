//! `phongdich user add` and `phongdich token create`: accounts and API tokens from the command
//! line (first administrator, machine clients). Both are written to the audit log.

use anyhow::Context;

use super::DatabaseArg;
use crate::config::FileConfig;
use server::auth::{ClientIp, NewUser};

#[derive(Debug, clap::Subcommand)]
pub enum UserCommand {
    /// Create a user.
    Add {
        #[command(flatten)]
        db: DatabaseArg,
        #[arg(long)]
        username: String,
        /// Password (at least 10 characters). Prefer PHONGDICH_PASSWORD to keep it out of
        /// shell history.
        #[arg(long, env = "PHONGDICH_PASSWORD", hide_env_values = true, value_parser = parse_password)]
        password: domain::auth::Password,
        /// admin, province_officer, district_officer, commune_staff, vaccination_site, lab,
        /// treatment_facility, business, citizen, verifier.
        #[arg(long)]
        role: String,
        /// Administrative unit code of the user's scope.
        #[arg(long)]
        unit: Option<String>,
        /// `2025` or `pre2025` (default: 3-digit codes are pre-2025 districts, others 2025).
        #[arg(long)]
        unit_version: Option<String>,
        #[arg(long)]
        display_name: Option<String>,
        /// Facility or organisation.
        #[arg(long)]
        organisation: Option<String>,
        /// Person record of a citizen account.
        #[arg(long)]
        person_id: Option<uuid::Uuid>,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum TokenCommand {
    /// Issue an API token for a user; the token is the last line of output.
    Create {
        #[command(flatten)]
        db: DatabaseArg,
        #[arg(long)]
        username: String,
        /// What the token is for.
        #[arg(long, default_value = "cli")]
        name: String,
    },
}

/// Keeps the password in a type whose `Debug` hides it.
fn parse_password(raw: &str) -> Result<domain::auth::Password, String> {
    Ok(domain::auth::Password::given(raw))
}

async fn state(db: DatabaseArg, file: &FileConfig) -> anyhow::Result<server::AppState> {
    let store = store::open(&file.database_url(db.database)).await?;
    Ok(server::AppState::new(store))
}

pub async fn run_user(cmd: UserCommand, file: &FileConfig) -> anyhow::Result<()> {
    match cmd {
        UserCommand::Add {
            db,
            username,
            password,
            role,
            unit,
            unit_version,
            display_name,
            organisation,
            person_id,
        } => {
            let state = state(db, file).await?;
            let user = server::auth::create_user(
                &state,
                None,
                &ClientIp(Some("cli".into())),
                NewUser {
                    username,
                    display_name,
                    password: password.expose().to_string(),
                    role,
                    unit,
                    unit_version,
                    organisation,
                    person_id,
                },
            )
            .await?;
            println!("{}", serde_json::to_string(&user)?);
            state.store.close().await;
            Ok(())
        }
    }
}

pub async fn run_token(cmd: TokenCommand, file: &FileConfig) -> anyhow::Result<()> {
    match cmd {
        TokenCommand::Create { db, username, name } => {
            let state = state(db, file).await?;
            let (user, _) = state
                .store
                .find_user_by_username(&username.to_ascii_lowercase())
                .await?
                .with_context(|| format!("không có người dùng «{username}»"))?;
            let token =
                server::auth::create_api_token(&state, &user, &ClientIp(Some("cli".into())), &name)
                    .await?;
            eprintln!("Mã truy cập API cho {} (chỉ hiện một lần):", user.username);
            println!("{token}");
            state.store.close().await;
            Ok(())
        }
    }
}
