//! One HTTP request and its response on a connection curl has: the
//! request written, the head read and reported (-v, -D, -i into a file),
//! the body read as it arrives into its sink (a file, the terminal,
//! nothing), decoded when asked, with the meter's rows and -m's cut.

use super::*;
use body::chunked as chunked_body;

/// Interim (1xx) answers taken before the final one.
const MAX_INTERIM: usize = 100;

/// One request and its response: the response head and the body (the
/// connection kept in `run.open` when it may be reused), asked again on a
/// fresh connection when a reused one died before answering.
pub(super) async fn exchange(
    run: &mut Run<'_>,
    url: &Url,
    method: &str,
    body: Option<&[u8]>,
    sink_is_terminal: bool,
    stats: &mut Stats,
) -> Result<(Head, Vec<u8>), Failure> {
    // A connection kept from an earlier transfer may have been closed by
    // the server meanwhile: when the request on it gets nothing back,
    // curl asks again on a fresh one (multi.c's Curl_retry_request; once
    // here, as the fresh connection is not a reused one).
    let mut may_retry = true;
    loop {
        run.died = false;
        // (A request asked again is counted once, as curl starts its
        // counts again for each attempt.)
        let counted = (stats.size_upload, stats.size_request);
        let done = exchange_once(run, url, method, body, sink_is_terminal, stats, may_retry).await;
        if !run.died {
            return done;
        }
        (stats.size_upload, stats.size_request) = counted;
        may_retry = false;
        run.info(format!(
            "Issue another request to this URL: '{}'",
            url.to_text()
        ));
    }
}

/// The most a client waits for `100 Continue` before sending the body
/// anyway (curl's `--expect100-timeout`, one second).
const EXPECT_WAIT: Duration = Duration::from_secs(1);

/// curl 7.88 asks before a POST body larger than this (EXPECT_100_THRESHOLD).
const EXPECT_POST_THRESHOLD: usize = 1 << 20;

#[allow(clippy::too_many_arguments)]
async fn exchange_once(
    run: &mut Run<'_>,
    url: &Url,
    method: &str,
    body: Option<&[u8]>,
    sink_is_terminal: bool,
    stats: &mut Stats,
    may_retry: bool,
) -> Result<(Head, Vec<u8>), Failure> {
    let mut open = run.connection(url, stats).await?;
    let may_retry = may_retry && open.reused;
    // After an HTTP/1.0 answer, the requests that follow it (-L) are
    // HTTP/1.0 too (libcurl's data->state.httpversion).
    let version = if run.a.http10 || run.answered_http10 {
        "1.0"
    } else {
        "1.1"
    };
    let mut lines = vec![format!("{method} {} HTTP/{version}", url.target)];
    let mut headers: Vec<(String, String)> = vec![("Host".into(), url.authority())];
    // -u, else the URL's own `user:password@`. No password prompt here:
    // "user" alone means an empty password.
    let creds = match &run.a.user {
        Some(user) if user.contains(':') => Some(user.clone().into_bytes()),
        Some(user) => Some(format!("{user}:").into_bytes()),
        None => url.credentials(),
    };
    if let Some(creds) = creds {
        let user = creds.split(|&b| b == b':').next().unwrap_or_default();
        run.info(format!(
            "Server auth using Basic with user '{}'",
            String::from_utf8_lossy(user)
        ));
        headers.push(("Authorization".into(), format!("Basic {}", base64(&creds))));
    }
    headers.push((
        "User-Agent".into(),
        run.a
            .user_agent
            .clone()
            .unwrap_or_else(|| format!("curl/{VERSION}")),
    ));
    headers.push(("Accept".into(), "*/*".into()));
    if run.a.compressed {
        // What this curl can decode (no brotli, no zstd).
        headers.push(("Accept-Encoding".into(), "deflate, gzip".into()));
    }
    if let Some(r) = &run.a.referer {
        headers.push(("Referer".into(), r.clone()));
    }
    for h in &run.a.headers {
        let (name, value) = match h.split_once(':') {
            Some((n, v)) => (n.trim().to_string(), v.trim().to_string()),
            // `Name;` sends the header empty; a word without either is
            // not a header, and curl leaves it out.
            None if h.ends_with(';') => (h.trim_end_matches(';').to_string(), String::new()),
            None => continue,
        };
        // A Host of the user's takes the place of curl's (first); other
        // headers of curl's own give way to the user's, which come after
        // them in the order given.
        let host = name.eq_ignore_ascii_case("host");
        let at = headers
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(&name));
        headers.retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
        if !value.is_empty() || h.ends_with(';') {
            match at {
                Some(k) if host => headers.insert(k, (name, value)),
                _ => headers.push((name, value)),
            }
        }
    }
    // A body of unknown length (`-T -`), or one the user said is chunked,
    // goes out in the chunked coding with no Content-Length (RFC 9112
    // §6.2: a sender MUST NOT send both).
    let chunked = body.is_some()
        && (run.upload.as_deref().is_some_and(args::is_stdin)
            || headers.iter().any(|(n, v)| {
                n.eq_ignore_ascii_case("transfer-encoding")
                    && v.to_ascii_lowercase().contains("chunked")
            }));
    // HTTP/1.0 has no chunked coding (curl: CURLE_UPLOAD_FAILED).
    if chunked && version == "1.0" {
        return Err(Failure::new(
            25,
            "Chunky upload is not supported by HTTP 1.0".into(),
        ));
    }
    let mut expect = false;
    if let Some(b) = body {
        let has = |name: &str| headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
        if chunked {
            if !has("transfer-encoding") {
                headers.push(("Transfer-Encoding".into(), "chunked".into()));
            }
        } else if !has("content-length") {
            headers.push(("Content-Length".into(), b.len().to_string()));
        }
        // curl asks before sending an upload (-T) that is not empty, and
        // a POST body over a megabyte, unless the user set Expect (an
        // empty `-H 'Expect:'` turns it off); not in HTTP/1.0.
        let wanted = if run.upload.is_some() {
            chunked || !b.is_empty()
        } else {
            !chunked && b.len() > EXPECT_POST_THRESHOLD
        };
        let user_expect = run.a.headers.iter().any(|h| {
            h.split([':', ';'])
                .next()
                .is_some_and(|n| n.trim().eq_ignore_ascii_case("expect"))
        });
        if run.upload.is_none()
            && !headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        {
            headers.push((
                "Content-Type".into(),
                "application/x-www-form-urlencoded".into(),
            ));
        }
        // (After the body's other headers, as curl writes it.)
        if wanted && !user_expect && version == "1.1" {
            headers.push(("Expect".into(), "100-continue".into()));
        }
        expect = version == "1.1"
            && headers.iter().any(|(n, v)| {
                n.eq_ignore_ascii_case("expect") && v.eq_ignore_ascii_case("100-continue")
            });
    }
    for (n, v) in &headers {
        // (`Name;` goes out as `Name:`, nothing after the colon.)
        if v.is_empty() {
            lines.push(format!("{n}:"));
        } else {
            lines.push(format!("{n}: {v}"));
        }
    }
    let mut request = String::new();
    for l in &lines {
        request.push_str(l);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    if run.a.verbose {
        // The request's TLS record goes out before curl shows the request.
        if open.key.0 {
            run.data(true, 5);
        }
        // The request as sent, CRLF line ends included (as curl -v shows).
        for l in &lines {
            run.header_line(format!("> {l}\r"));
        }
        run.header_line("> \r".into());
    }
    stats.size_request += request.len() as u64;
    stats.pretransfer = run
        .host
        .now()
        .saturating_since(stats.start.expect("started"));
    let mut bytes = request.into_bytes();
    let wire_body = body.map(|b| if chunked { chunked_body(b) } else { b.to_vec() });
    // With `Expect: 100-continue` a body waits for the server's word (an
    // empty one has nothing to wait for).
    let mut held = None;
    match &wire_body {
        Some(b) if expect && !b.is_empty() => held = Some(b.as_slice()),
        Some(b) => bytes.extend_from_slice(b),
        None => {}
    }
    if let Err(e) = open.conn.stream.write_all(&bytes).await {
        if may_retry {
            return Err(run.retry(open).await);
        }
        return Err(Failure::new(55, format!("Send failure: {e}")));
    }
    if let (Some(b), None) = (body, held) {
        stats.size_upload += b.len() as u64;
        run.data(true, b.len());
    }
    // How long curl waits for it: a second from the request, whatever
    // other interim answers come meanwhile (EXPIRE_100_TIMEOUT).
    let expect_until = held.map(|_| run.host.now() + EXPECT_WAIT);
    let upload = body.map_or(0, <[u8]>::len);
    // --limit-rate counts from the request on, per transfer.
    open.conn.pace = run
        .a
        .limit_rate
        .map(|r| crate::http::Pace::new(&run.host, r));
    // RFC 9110 §15.2: a 1xx response (but 101, which switches protocols)
    // is interim: shown (-v, -i) and passed over for the final one.
    let mut interim = 0;
    let (head, code, proto) = loop {
        let head = match (held, expect_until) {
            (Some(b), Some(until)) => {
                let left = until.saturating_since(run.host.now());
                match timeout(&run.host, left, open.conn.read_head()).await {
                    Ok(h) => h,
                    Err(_) => {
                        // A second of silence: curl sends the body anyway.
                        run.info("Done waiting for 100-continue".into());
                        held = None;
                        send_held(run, &open, b, upload, stats).await?;
                        continue;
                    }
                }
            }
            _ => open.conn.read_head().await,
        };
        // Session tickets the server sent after the handshake were read on
        // the way to the response (curl shows them then), each record
        // after its header; then the response's record.
        if open.key.0 && matches!(head, Ok(Some(_))) {
            let seen = open.conn.stream.seen();
            run.data(false, 5);
            run.show_tickets(&(open.key.1.clone(), open.key.2), &seen);
            run.data(false, 5);
        }
        // Nothing at all came back on a reused connection: it was dead.
        let nothing = interim == 0 && matches!(head, Ok(None) | Err(HttpError::Socket(_)));
        if nothing && may_retry {
            return Err(run.retry(open).await);
        }
        let head = match head {
            Ok(Some(h)) => h,
            Ok(None) | Err(HttpError::Closed) => {
                return Err(Failure::new(52, "Empty reply from server".into()))
            }
            Err(HttpError::Socket(e)) => return Err(recv_failure(&open, e)),
            // curl 7.88 refuses HTTP/0.9 unless --http0.9 allows it.
            Err(HttpError::NotHttp) => {
                return Err(Failure::new(1, "Received HTTP/0.9 when not allowed".into()));
            }
            // curl 7.88's words for what its header parser refuses.
            Err(HttpError::Malformed("header line without a colon")) => {
                return Err(Failure::new(8, "Header without colon".into()));
            }
            Err(HttpError::HeadTooLarge | HttpError::ResponseLineTooLong) => {
                return Err(Failure::new(27, "Out of memory".into()));
            }
            Err(HttpError::ResponseHeadTooLarge(n)) => {
                return Err(Failure::new(
                    56,
                    format!("Too large response headers: {n} > 307200"),
                ));
            }
            Err(_) => {
                return Err(Failure::new(8, "Weird server reply".into()));
            }
        };
        stats.starttransfer = run
            .host
            .now()
            .saturating_since(stats.start.expect("started"));
        let mut status = head.start.splitn(3, ' ');
        let proto = status.next().unwrap_or("");
        let code_text = status.next().unwrap_or("");
        // More than three digits is a code curl does not take (its
        // parser reads three and wants no digit after them).
        if code_text.len() > 3 && code_text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Failure::new(
                1,
                "Unsupported response code in HTTP response".into(),
            ));
        }
        let code: u16 = code_text
            .parse()
            .ok()
            .filter(|c| (100..1000).contains(c))
            .ok_or_else(|| Failure::new(8, "Weird server reply".into()))?;
        // (curl reads the protocol's name in any case.)
        if !proto
            .get(..7)
            .is_some_and(|p| p.eq_ignore_ascii_case("HTTP/1."))
        {
            return Err(Failure::new(
                1,
                "Unsupported HTTP version in response".into(),
            ));
        }
        let upper = proto.to_ascii_uppercase();
        let proto = upper.as_str();
        stats.http_code = code;
        stats.http_version = match proto {
            "HTTP/1.0" => "1",
            _ => "1.1",
        };
        run.answered_http10 |= proto == "HTTP/1.0";
        stats.num_headers = head.headers.len() as u32;
        stats.size_header += head.start.len() as u64 + 2;
        for (n, v) in &head.headers {
            stats.size_header += (n.len() + v.len() + 4) as u64;
        }
        stats.size_header += 2;
        stats.content_type = head.header("content-type").unwrap_or("").to_string();
        if run.a.verbose {
            if proto == "HTTP/1.0" {
                run.info("HTTP 1.0, assume close after body".into());
            }
            run.header_line(format!("< {}\r", head.start));
            for (n, v) in &head.headers {
                run.header_line(format!("< {n}: {v}\r"));
            }
            run.header_line("< \r".into());
        }
        run.dump_head(&head);
        // -i and -I put each response's head in the output before its body:
        // into the -o file as it arrives (on a terminal, after the transfer).
        if run.a.include || run.a.head {
            if let Some(Sink::File(path)) = &run.body_sink {
                let fs = run.host.fs();
                let text = head_text(&head);
                let wrote = if run.heads_in_file {
                    fs.append(path, text.as_bytes())
                } else {
                    fs.write(path, text.as_bytes())
                };
                if let Err(e) = wrote {
                    return Err(write_failure(run.err, run.a.silent, path, &e));
                }
                run.heads_in_file = true;
            }
        }
        if (100..200).contains(&code) && code != 101 {
            // The server's go-ahead for a body that waits for it.
            if code == 100 {
                if let Some(b) = held.take() {
                    send_held(run, &open, b, upload, stats).await?;
                }
            }
            // A server that never stops sending interim answers: given
            // up on, not read (and kept) for ever.
            interim += 1;
            if interim > MAX_INTERIM {
                return Err(Failure::new(8, "Weird server reply".into()));
            }
            if run.a.include || run.a.head {
                run.interim.push(head);
            }
            continue;
        }
        let proto = proto.to_string();
        break (head, code, proto);
    };
    let proto = proto.as_str();
    // RFC 9112 §6.3: which responses have a body, and how long it is.
    // -I asks for no body (libcurl's NOBODY); `-X HEAD` only renames the
    // method, and curl then waits for the body the head announces.
    let no_body = run.a.head || code == 204 || code == 304 || (100..200).contains(&code);
    let length = curl_content_length(&head)?;
    let chunked = head.is_chunked();
    // A final answer before the server asked for the body: the body
    // was never sent, so the connection cannot carry another request.
    let mut keep = held.is_none()
        && if proto == "HTTP/1.0" {
            head.has_token("connection", "keep-alive")
        } else {
            !head.has_token("connection", "close")
        };
    let total = if no_body { 0 } else { length.unwrap_or(0) };
    stats.size_expected = length.filter(|_| !no_body);
    // The meter's Total: what Content-Length said, a HEAD's too.
    stats.content_length = length;
    let run_fail = run.a.fail && code >= 400;
    run.body.clear();
    // (A file that holds heads already takes the body after them.)
    run.streamed = run.heads_in_file;
    // Where this body goes as it arrives: curl writes each piece as it
    // comes (a file is made at the first, so a path that cannot be
    // written fails the transfer then), and keeps nothing for /dev/null.
    // The body of a redirect being followed, or of an error with -f, is
    // not written. One to decode (--compressed) is decoded as it comes.
    let follows = run.a.follow
        && head
            .header("location")
            .is_some_and(|l| !l.trim().is_empty())
        && matches!(code, 301 | 302 | 303 | 307 | 308);
    let written = !(no_body || follows || run.a.fail && code >= 400);
    let mut decoder = match head
        .header("content-encoding")
        .filter(|_| run.a.compressed && written)
    {
        Some(enc) => Some(Decoder::new(enc)?),
        None => None,
    };
    run.body_kept = written;
    let stream_to = match &run.body_sink {
        Some(Sink::File(path)) if written => Some(path.clone()),
        _ => None,
    };
    let discard = written && matches!(run.body_sink, Some(Sink::Null));
    let refused: RefCell<Option<Failure>> = RefCell::new(None);
    let fs = run.host.fs();
    let silent = run.a.silent;
    let got = &mut run.body;
    let made = &mut run.streamed;
    let host = run.host.clone();
    // The body's first piece after the head gets a data line (curl's
    // trace shows one per line of text).
    let data_lines = run.data_lines && !sink_is_terminal;
    if !no_body && !chunked && length.is_none() {
        if run.a.verbose && proto != "HTTP/1.0" {
            run.err
                .line("* no chunk, no close, no size. Assume close to signal end");
            run.traced = false;
        }
        keep = false;
    }
    let traced = Cell::new(run.traced);
    // The meter, standard error and the count are shared between the
    // body's reader (a row when data comes a second after the last) and
    // a ticker (a row each second while nothing comes, as curl's progress
    // callback runs on its clock, so a stall shows Current falling).
    let meter = &run.meter;
    let err = RefCell::new(&mut *run.err);
    // (In place: a transfer cut short by -m reports what came.)
    let size_download = Cell::from_mut(&mut stats.size_download);
    let result = {
        // Where body bytes (decoded, when they are coded) go.
        let mut deliver = |b: &[u8]| -> Result<(), HttpError> {
            if discard {
                return Ok(());
            }
            got.extend_from_slice(b);
            if let Some(path) = &stream_to {
                if !*made || got.len() >= STREAM_PIECE {
                    let wrote = if *made {
                        fs.append(path, got)
                    } else {
                        fs.write(path, got)
                    };
                    if let Err(e) = wrote {
                        // curl warns when the open fails; a write that
                        // fails later (a full disk) is only the error.
                        *refused.borrow_mut() = Some(if *made {
                            output_failure()
                        } else {
                            write_failure(&mut err.borrow_mut(), silent, path, &e)
                        });
                        return Err(HttpError::Refused);
                    }
                    *made = true;
                    got.clear();
                }
            } else if got.len() > MAX_HELD {
                // Held whole (to a terminal): no more than a simulated
                // disk could take.
                *refused.borrow_mut() = Some(output_failure());
                return Err(HttpError::Refused);
            }
            Ok(())
        };
        let read_result = {
            let mut sink = |b: &[u8]| -> Result<(), HttpError> {
                size_download.set(size_download.get() + b.len() as u64);
                if data_lines && !traced.replace(true) {
                    err.borrow_mut()
                        .line(format!("{{ [{} bytes data]", b.len()));
                }
                if let Some(m) = meter.borrow_mut().as_mut() {
                    m.update(
                        host.now(),
                        total,
                        size_download.get(),
                        &mut err.borrow_mut(),
                    );
                }
                match decoder.as_mut() {
                    Some(d) => d.feed(b, &mut deliver).map_err(|stop| match stop {
                        Stop::Sink(e) => e,
                        Stop::Decode(f) => {
                            *refused.borrow_mut() = Some(f);
                            HttpError::Refused
                        }
                    }),
                    None => deliver(b),
                }
            };
            let read = async {
                // -f: curl fails at the head of an error response and
                // reads none of its body (http.c), so the meter's last
                // row shows the length and nothing received.
                if no_body || run_fail {
                    Ok(())
                } else if chunked {
                    open.conn.read_chunked_into(&mut sink).await
                } else if let Some(n) = length {
                    open.conn.read_exact_into(n, &mut sink).await
                } else {
                    open.conn.read_to_close_into(&mut sink).await
                }
            };
            let ticker = report::tick(&host, meter, &err, total, size_download);
            match select(read, ticker).await {
                Either::Left(r) => r,
                Either::Right(never) => match never {},
            }
        };
        // The body is in: what the decoder still holds, or (61) when a
        // coded stream was cut short.
        match (read_result, decoder.as_mut()) {
            (Ok(()), Some(d)) => d.finish(&mut deliver).map_err(|stop| match stop {
                Stop::Sink(e) => e,
                Stop::Decode(f) => {
                    *refused.borrow_mut() = Some(f);
                    HttpError::Refused
                }
            }),
            (r, _) => r,
        }
    };
    run.traced = traced.get();
    if let Some(f) = refused.into_inner() {
        // curl's meter ends with a row of what came, after the warning.
        if let Some(mut m) = run.meter.get_mut().take() {
            m.done(
                run.host.now(),
                total,
                stats.size_download,
                stats.size_upload,
                run.err,
            );
            run.meter_open = false;
        }
        return Err(f);
    }
    match result {
        Ok(()) => {}
        Err(HttpError::Closed) if chunked => {
            return Err(Failure::new(
                18,
                "transfer closed with outstanding read data remaining".into(),
            ));
        }
        Err(HttpError::Closed) => {
            let remaining = length.map_or(0, |n| n.saturating_sub(stats.size_download));
            return Err(Failure::new(
                18,
                format!("transfer closed with {remaining} bytes remaining to read"),
            ));
        }
        // curl's chunk parser's words (CHUNKE_ILLEGAL_HEX, _BAD_ENCODING).
        Err(HttpError::Malformed(why)) if chunked => {
            let text = if why == "bad chunk size" {
                "Illegal or missing hexadecimal sequence in chunked-encoding"
            } else {
                "Malformed encoding found in chunked-encoding"
            };
            return Err(Failure::new(56, text.into()));
        }
        Err(HttpError::Socket(e)) => return Err(recv_failure(&open, e)),
        Err(e) => return Err(Failure::new(56, format!("Recv failure: {e}"))),
    }
    let got = std::mem::take(&mut run.body);
    // Bytes past the body's length: the connection's framing is lost, so
    // curl closes it rather than read them as the next answer.
    let excess = open.conn.excess();
    if keep && excess > 0 {
        if let Some(size) = length.filter(|_| !no_body) {
            run.info(format!(
                "Excess found in a read: excess = {excess}, size = {size}, maxdownload = {size}, bytecount = {}",
                stats.size_download
            ));
        }
        keep = false;
    }
    if keep {
        run.open = Some(open);
    } else {
        // close(2) and on: the transfer is over when its body is in (curl
        // stops the clock there); the FIN's exchange goes on without it.
        run.info(format!("Closing connection {}", open.number));
        run.say_close_notify(&open.conn.stream);
        let _ = open.conn.stream.shutdown().await;
    }
    Ok((head, got))
}

/// Send a body that waited for `100 Continue` (`upload`: its length
/// before any chunked coding, as curl counts what it uploaded).
async fn send_held(
    run: &mut Run<'_>,
    open: &Open,
    wire: &[u8],
    upload: usize,
    stats: &mut Stats,
) -> Result<(), Failure> {
    if let Err(e) = open.conn.stream.write_all(wire).await {
        return Err(Failure::new(55, format!("Send failure: {e}")));
    }
    stats.size_upload += upload as u64;
    run.data(true, upload);
    Ok(())
}

/// How much of a body streamed to a file is held before it is added to
/// the file (curl's own buffer is 16 KiB; fewer, larger writes here).
const STREAM_PIECE: usize = 64 << 10;
/// The most of a body held whole (to a terminal, or to decode): a
/// simulated host's disk.
pub(super) const MAX_HELD: usize = tcplab_host::DEFAULT_DISK as usize;

/// Content-Length as curl 7.88 reads it: the last one given wins (it does
/// not compare them), and one that is not a number fails the transfer.
fn curl_content_length(head: &Head) -> Result<Option<u64>, Failure> {
    let mut found = None;
    for (n, v) in &head.headers {
        if !n.eq_ignore_ascii_case("content-length") {
            continue;
        }
        let v = v.trim();
        match v.parse::<u64>() {
            Ok(n) if v.bytes().all(|b| b.is_ascii_digit()) => found = Some(n),
            _ => return Err(Failure::new(8, "Invalid Content-Length: value".into())),
        }
    }
    Ok(found)
}
