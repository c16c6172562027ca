/** The words for a broker that cannot be reached or refuses us, shared by the MQTT sink and `monitor --mqtt`. */

/** `mqtt://host:port/path` without user information, for messages. */
export function urlForDisplay(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
  } catch {
    return '(malformed URL)';
  }
}

/** One line for a connection failure, with what to check. */
export function describeMqttError(err: Error & { code?: string | number }, url: string): string {
  const where = urlForDisplay(url);
  if (typeof err.code === 'number') {
    const hint = err.code === 4 || err.code === 5 || err.code === 134 || err.code === 135 ? ' (check the user name and the password file)' : '';
    return `the broker ${where} refused the connection: ${err.message.replace(/^Connection refused: /, '')}${hint}`;
  }
  if (err.code === 'ECONNREFUSED') return `cannot reach the broker ${where}: connection refused`;
  if (err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN') return `cannot reach the broker ${where}: unknown host`;
  // While connecting (a reset of a working connection is not described: 'close' says it). Mosquitto
  // resets a plain MQTT client on its TLS port, and a TLS client on its plain port.
  if (err.code === 'ECONNRESET' || err.code === 'EPIPE') {
    const tls = /^(mqtts|wss):/i.test(url);
    return `the broker ${where} closed the connection before answering (does that port want ${tls ? 'plain MQTT: mqtt:// or ws://' : 'TLS: mqtts:// or wss://'}?)`;
  }
  if (typeof err.code === 'string' && /CERT|SSL|TLS|SELF_SIGNED|ALTNAME/.test(err.code)) {
    // OpenSSL's own errors carry a short `reason`; their message is a whole error-stack line.
    const reason = (err as { reason?: unknown }).reason;
    const detail = typeof reason === 'string' && reason ? reason : err.message;
    const hint = /certificate required/i.test(detail) ? ' (the broker wants a client certificate: set cert and key in [mqtt])' : '';
    return `TLS with the broker ${where} failed: ${detail}${hint}`;
  }
  // MQTT.js's words for a connected broker that stopped answering (frozen, or the network gone
  // with the socket still open), and for one that took the TCP connection and never answered CONNECT.
  if (/^keepalive timeout$/i.test(err.message)) return `the broker ${where} stopped answering (no reply to a keep-alive ping)`;
  if (/^connack timeout$/i.test(err.message)) return `the broker ${where} accepted the connection but never answered it (is that port an MQTT broker's? is it overloaded?)`;
  return `broker ${where}: ${err.message}`;
}
