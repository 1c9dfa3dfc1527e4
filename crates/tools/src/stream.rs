//! A connected byte stream, TCP or local: what servers and nc need of one.

use tcplab_host::{LocalStream, TcpStream};
use tcplab_stack::SocketError;

/// Reading, writing and closing the sending side.
pub(crate) trait Duplex {
    async fn read(&self, buf: &mut [u8]) -> Result<usize, SocketError>;
    async fn write(&self, data: &[u8]) -> Result<usize, SocketError>;
    fn shutdown(&self) -> Result<(), SocketError>;
    /// Wait until what was written has been delivered (TCP: acknowledged).
    async fn flush(&self) -> Result<(), SocketError>;

    async fn write_all(&self, mut data: &[u8]) -> Result<(), SocketError> {
        while !data.is_empty() {
            let k = self.write(data).await?;
            data = &data[k..];
        }
        Ok(())
    }
}

impl Duplex for TcpStream {
    async fn read(&self, buf: &mut [u8]) -> Result<usize, SocketError> {
        TcpStream::read(self, buf).await
    }
    async fn write(&self, data: &[u8]) -> Result<usize, SocketError> {
        TcpStream::write(self, data).await
    }
    fn shutdown(&self) -> Result<(), SocketError> {
        TcpStream::shutdown(self)
    }
    async fn flush(&self) -> Result<(), SocketError> {
        TcpStream::flush(self).await
    }
}

impl Duplex for LocalStream {
    async fn read(&self, buf: &mut [u8]) -> Result<usize, SocketError> {
        LocalStream::read(self, buf).await
    }
    async fn write(&self, data: &[u8]) -> Result<usize, SocketError> {
        LocalStream::write(self, data).await
    }
    fn shutdown(&self) -> Result<(), SocketError> {
        LocalStream::shutdown(self)
    }
    async fn flush(&self) -> Result<(), SocketError> {
        Ok(())
    }
}
