//! Fresh PostgreSQL databases on the machine's server, one per test.

use anyhow::Context;
use sqlx::{Connection, Executor, PgConnection};

/// Where the PostgreSQL server for tests is: `SATCHEL_TEST_POSTGRES`, or the local one
/// every development and CI machine runs (trust authentication).
pub fn server_url() -> String {
    std::env::var("SATCHEL_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
}

/// An empty database of its own, dropped (with any connections left) when this is
/// dropped.
pub struct TestDatabase {
    pub url: String,
    name: String,
}

impl TestDatabase {
    pub async fn create() -> anyhow::Result<TestDatabase> {
        let name = format!("satchel_test_{:016x}", rand::random::<u64>());
        let mut admin = PgConnection::connect(&format!("{}/postgres", server_url()))
            .await
            .context("PostgreSQL for tests is not reachable (SATCHEL_TEST_POSTGRES)")?;
        admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await?;
        admin.close().await?;
        Ok(TestDatabase {
            url: format!("{}/{name}", server_url()),
            name,
        })
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let name = std::mem::take(&mut self.name);
        // Drop runs inside the test's runtime, which cannot be blocked on: drop the
        // database from a thread of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let mut admin =
                    PgConnection::connect(&format!("{}/postgres", server_url())).await?;
                admin
                    .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                    .await?;
                anyhow::Ok(())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop a test database");
        }
    }
}
