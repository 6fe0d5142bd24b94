//! The connection to the fleet's Redis: one server (or a primary), through
//! the `redis` crate's connection manager, or a Redis Cluster (ElastiCache
//! cluster mode), through its cluster client, which follows the cluster's
//! slots and redirections. Every key of a fleet shares one hash tag, so every
//! script runs on the one node that owns it. Both are made lazily: a sidecar
//! whose Redis is down starts, and connects when it answers.

use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, ConnectionInfo, Pipeline, RedisFuture, RedisResult, Value};
use tokio::sync::OnceCell;

/// How the connection is made and bounded.
pub struct Settings {
    /// The server, or one node of a cluster (the others are discovered).
    pub info: ConnectionInfo,
    /// Whether Redis is a cluster.
    pub cluster: bool,
    /// Longest wait for a connection and for one answer.
    pub timeout: Duration,
    /// Longest pause between reconnection attempts.
    pub max_delay: Duration,
}

/// A connection to the fleet's Redis.
pub enum Link {
    /// One server: the manager reconnects by itself.
    Single(ConnectionManager),
    /// A cluster, connected at first use.
    Cluster(Box<Cluster>),
}

/// A cluster's client, and its connection once made.
pub struct Cluster {
    client: redis::cluster::ClusterClient,
    connection: OnceCell<ClusterConnection>,
}

/// A handle on the connection for one command (cheap to clone).
#[derive(Clone)]
pub enum Connection {
    /// To one server.
    Single(ConnectionManager),
    /// To a cluster.
    Cluster(ClusterConnection),
}

impl Link {
    /// A link as `settings` say; nothing is connected yet.
    pub fn new(settings: Settings) -> RedisResult<Self> {
        if settings.cluster {
            let client = ClusterClientBuilder::new(vec![settings.info])
                .connection_timeout(settings.timeout)
                .response_timeout(settings.timeout)
                .retries(1)
                .build()?;
            return Ok(Self::Cluster(Box::new(Cluster { client, connection: OnceCell::new() })));
        }
        let client = redis::Client::open(settings.info)?;
        let manager = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(settings.timeout))
            .set_response_timeout(Some(settings.timeout))
            .set_number_of_retries(1)
            .set_max_delay(settings.max_delay);
        Ok(Self::Single(ConnectionManager::new_lazy_with_config(client, manager)?))
    }

    /// A handle for one command, connecting to the cluster if it is not yet.
    pub async fn connection(&self) -> RedisResult<Connection> {
        match self {
            Self::Single(manager) => Ok(Connection::Single(manager.clone())),
            Self::Cluster(cluster) => {
                let Cluster { client, connection } = &**cluster;
                let connection = connection.get_or_try_init(|| client.get_async_connection()).await?;
                Ok(Connection::Cluster(connection.clone()))
            }
        }
    }
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
        }
    }
}
