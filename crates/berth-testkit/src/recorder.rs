//! A blocking HTTP/1.1 endpoint on 127.0.0.1 that records every request it receives (method,
//! path, headers, body) and answers `201 Created` with an empty body, keeping connections
//! alive: what the daemon's notifications (GitHub commit statuses, chat webhooks) are sent to
//! in end-to-end tests.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// The largest body the recorder reads (a notification is a few hundred bytes).
const MAX_BODY: usize = 1 << 20;

/// One request received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// `POST`, ...
    pub method: String,
    /// The request target, e.g. `/repos/acme/deploy/statuses/<sha>`.
    pub path: String,
    /// Header names in lower case, with their values.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl RecordedRequest {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        (self.headers.iter())
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The endpoint; it serves until the process ends.
#[derive(Debug, Clone)]
pub struct Recorder {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<RecordedRequest>>>,
}

impl Recorder {
    /// Binds 127.0.0.1 on a free port and serves on background threads.
    pub fn start() -> std::io::Result<Recorder> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let recorder = Recorder {
            addr: listener.local_addr()?,
            requests: Arc::default(),
        };
        let requests = Arc::clone(&recorder.requests);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let requests = Arc::clone(&requests);
                std::thread::spawn(move || serve(stream, &requests));
            }
        });
        Ok(recorder)
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request so far, in the order received.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        (self.requests.lock())
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Reads requests off one connection until it closes or sends something that is not HTTP.
fn serve(stream: TcpStream, requests: &Mutex<Vec<RecordedRequest>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    while let Some(request) = read_request(&mut reader) {
        (requests.lock())
            .unwrap_or_else(PoisonError::into_inner)
            .push(request);
        let answer = b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n";
        if writer.write_all(answer).is_err() {
            return;
        }
    }
}

/// One request: its head, then `Content-Length` bytes of body.
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<RecordedRequest> {
    let mut line = String::new();
    reader.read_line(&mut line).ok().filter(|n| *n > 0)?;
    let mut words = line.split_whitespace();
    let (method, path) = (words.next()?.to_owned(), words.next()?.to_owned());
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok().filter(|n| *n > 0)?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    let length = (headers.iter())
        .find(|(name, _)| name == "content-length")
        .and_then(|(_, value)| value.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0; length.min(MAX_BODY)];
    reader.read_exact(&mut body).ok()?;
    Some(RecordedRequest {
        method,
        path,
        headers,
        body,
    })
}
