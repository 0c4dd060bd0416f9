//! `phongdich audit verify`: checks the audit log's hash chain end to end. Exit status 0 when
//! intact; non-zero naming the first bad entry after any edit or deletion.

use super::DatabaseArg;
use crate::config::FileConfig;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Verify the hash chain of the audit log.
    Verify {
        #[command(flatten)]
        db: DatabaseArg,
    },
}

pub async fn run(cmd: Command, file: &FileConfig) -> anyhow::Result<()> {
    match cmd {
        Command::Verify { db } => {
            let store = store::open(&file.database_url(db.database)).await?;
            let result = store::verify_audit(store.as_ref()).await?;
            store.close().await;
            match result {
                Ok(n) => {
                    println!("{}", serde_json::json!({ "intact": true, "entries": n }));
                    Ok(())
                }
                Err(b) => anyhow::bail!(
                    "nhật ký kiểm toán bị sửa hoặc xóa: mục đầu tiên sai là #{} ({})",
                    b.seq,
                    b.reason
                ),
            }
        }
    }
}
