// A small SMSC for black-box tests, built on the `smpp` npm package (farhadi/node-smpp), an SMPP
// implementation not written in this project. Run by tern_testkit::node_smsc::NodeSmsc with
// NODE_PATH pointing at the node project that holds `smpp`.
//
// Usage: node smsc.js '<options JSON>'. Options (all optional):
//   system_id, password          the one account that may bind ("smsc", "secret")
//   message_id_format            submit_sm_resp ids: "decimal" (default), "hex" (lowercase), "HEX"
//   receipt_id_format            how receipts carry that id: "same" (default), "decimal", "hex", "HEX"
//   message_id_width             left-pad ids with zeros to this width (0: none)
//   first_message_id             the first id's number (default 1)
//   receipt_delay_ms             delay before a receipt (default 100)
//   receipt_tlvs                 also send receipted_message_id and message_state TLVs (false)
//   rules                        [{prefix, stat, err}]: the first whose prefix starts the
//                                destination decides the receipt; else DELIVRD err 000
//   drop_unanswered_submits      the first N submit_sm get no answer; at the Nth every
//                                connection is dropped (a crash with submits outstanding)
//   refuse                       [{prefix, command_status}]: submit_sm to a destination with
//                                that prefix is answered with that command_status, no id
// Listens on 127.0.0.1, port 0 (a free one). Prints one JSON object a line on stdout per event
// ({"event":"listening","port":N}, "bound", "bind_refused", "submit_sm", "receipt",
// "deliver_sm_resp", "mo", "enquire_link", "unbind", "closed", "error"). Reads commands, one JSON
// object a line, on stdin: {"cmd":"mo","from":…,"to":…,"text":…} (an MO deliver_sm, data_coding
// 0, to the first receiver/transceiver session), {"cmd":"disconnect"} (drops every connection).
// Exits when stdin closes.
'use strict';

const smpp = require('smpp');
const readline = require('readline');

const options = Object.assign(
  {
    system_id: 'smsc',
    password: 'secret',
    message_id_format: 'decimal',
    receipt_id_format: 'same',
    message_id_width: 0,
    first_message_id: 1,
    receipt_delay_ms: 100,
    receipt_tlvs: false,
    rules: [],
    drop_unanswered_submits: 0,
    refuse: [],
  },
  JSON.parse(process.argv[2] || '{}'),
);

function emit(event, fields) {
  process.stdout.write(JSON.stringify(Object.assign({ event }, fields)) + '\n');
}

// Keep the octets of short_message and message_payload as received: node-smpp decodes them to
// strings (by data_coding), and the tests assert the exact octets.
const decodeFilter = smpp.PDU.prototype._filter;
smpp.PDU.prototype._filter = function (func) {
  if (func === 'decode') {
    Object.defineProperty(this, 'raw', {
      value: { short_message: this.short_message, message_payload: this.message_payload },
      enumerable: false,
    });
  }
  return decodeFilter.call(this, func);
};

const hex = (buffer) => (Buffer.isBuffer(buffer) ? buffer.toString('hex') : null);

function formatId(number, format) {
  let id;
  switch (format) {
    case 'hex': id = number.toString(16); break;
    case 'HEX': id = number.toString(16).toUpperCase(); break;
    default: id = number.toString(10);
  }
  return id.padStart(options.message_id_width, '0');
}

// Appendix B dates: YYMMDDhhmm, UTC.
function appendixBDate(date) {
  const two = (n) => String(n).padStart(2, '0');
  return two(date.getUTCFullYear() % 100) + two(date.getUTCMonth() + 1) + two(date.getUTCDate()) +
    two(date.getUTCHours()) + two(date.getUTCMinutes());
}

const MESSAGE_STATES = { ENROUTE: 1, DELIVRD: 2, EXPIRED: 3, DELETED: 4, UNDELIV: 5, ACCEPTD: 6, UNKNOWN: 7, REJECTD: 8 };

let nextId = options.first_message_id;
// submit_sm left unanswered so far (drop_unanswered_submits).
let dropped = 0;
// Receipts waiting for a receiving session (none was bound when they fell due).
const pending = [];
const sessions = new Set();

function receivingSession(preferred) {
  if (preferred && preferred.bound && preferred.bound !== 'transmitter' && !preferred.closed) {
    return preferred;
  }
  for (const session of sessions) {
    if (session.bound && session.bound !== 'transmitter' && !session.closed) {
      return session;
    }
  }
  return null;
}

function deliver(session, pdu, event, fields) {
  session.deliver_sm(pdu, (resp) => {
    emit('deliver_sm_resp', { of: event, command_status: resp.command_status, sequence_number: resp.sequence_number });
  });
  emit(event, fields);
}

function sendReceipt(preferred, receipt) {
  const session = receivingSession(preferred);
  if (!session) {
    pending.push(receipt);
    return;
  }
  const pdu = {
    source_addr_ton: 1,
    source_addr_npi: 1,
    source_addr: receipt.destination,
    dest_addr_ton: receipt.source_ton,
    dest_addr_npi: receipt.source_npi,
    destination_addr: receipt.source,
    esm_class: 0x04,
    data_coding: 0,
    short_message: Buffer.from(receipt.text, 'latin1'),
  };
  if (options.receipt_tlvs) {
    pdu.receipted_message_id = receipt.receipt_id;
    pdu.message_state = MESSAGE_STATES[receipt.stat] || 7;
  }
  deliver(session, pdu, 'receipt', {
    message_id: receipt.message_id,
    receipt_id: receipt.receipt_id,
    stat: receipt.stat,
    err: receipt.err,
    text: receipt.text,
  });
}

function onSubmit(session, pdu) {
  if (session.bound !== 'transmitter' && session.bound !== 'transceiver') {
    session.send(pdu.response({ command_status: smpp.ESME_RINVBNDSTS }));
    emit('submit_refused', { command_status: smpp.ESME_RINVBNDSTS });
    return;
  }
  const refusal = options.refuse.find((r) => pdu.destination_addr.startsWith(r.prefix));
  if (refusal) {
    session.send(pdu.response({ command_status: refusal.command_status }));
    emit('submit_refused', { destination: pdu.destination_addr, command_status: refusal.command_status });
    return;
  }
  if (dropped < options.drop_unanswered_submits) {
    dropped += 1;
    emit('submit_dropped', { destination: pdu.destination_addr });
    if (dropped === options.drop_unanswered_submits) {
      for (const other of sessions) {
        other.destroy();
      }
      emit('disconnected', { sessions: sessions.size });
    }
    return;
  }
  const number = nextId++;
  const messageId = formatId(number, options.message_id_format);
  session.send(pdu.response({ message_id: messageId }));
  const raw = pdu.raw || {};
  const body = (raw.message_payload && raw.message_payload.length ? raw.message_payload : raw.short_message) || Buffer.alloc(0);
  emit('submit_sm', {
    system_id: session.system_id,
    source: pdu.source_addr,
    destination: pdu.destination_addr,
    data_coding: pdu.data_coding,
    esm_class: pdu.esm_class,
    registered_delivery: pdu.registered_delivery,
    short_message_hex: hex(raw.short_message) || '',
    message_payload_hex: hex(raw.message_payload),
    message_id: messageId,
  });
  const rule = options.rules.find((r) => pdu.destination_addr.startsWith(r.prefix)) || { stat: 'DELIVRD', err: '000' };
  const wanted = pdu.registered_delivery & 0x03;
  if (wanted === 0 || (wanted === 2 && rule.stat === 'DELIVRD')) {
    return;
  }
  const receiptId = options.receipt_id_format === 'same'
    ? messageId
    : formatId(number, options.receipt_id_format);
  // The message's first 20 characters as node-smpp decoded them, non-ASCII as '?'.
  const decoded = typeof pdu.short_message === 'object' && pdu.short_message && 'message' in pdu.short_message
    ? pdu.short_message.message
    : pdu.short_message;
  const message = (typeof decoded === 'string' ? decoded : body.toString('latin1'))
    .slice(0, 20)
    .replace(/[^\x20-\x7e]/g, '?');
  const submitted = new Date();
  setTimeout(() => {
    const dlvrd = rule.stat === 'DELIVRD' ? '001' : '000';
    const text = `id:${receiptId} sub:001 dlvrd:${dlvrd} submit date:${appendixBDate(submitted)} ` +
      `done date:${appendixBDate(new Date())} stat:${rule.stat} err:${rule.err} text:${message}`;
    sendReceipt(session, {
      message_id: messageId,
      receipt_id: receiptId,
      stat: rule.stat,
      err: rule.err,
      text,
      source: pdu.source_addr,
      source_ton: pdu.source_addr_ton,
      source_npi: pdu.source_addr_npi,
      destination: pdu.destination_addr,
    });
  }, options.receipt_delay_ms);
}

function onBind(session, mode, pdu) {
  if (session.bound) {
    session.send(pdu.response({ command_status: smpp.ESME_RALYBND }));
    emit('bind_refused', { system_id: pdu.system_id, mode, command_status: smpp.ESME_RALYBND });
    return;
  }
  let status = 0;
  if (pdu.system_id !== options.system_id) {
    status = smpp.ESME_RINVSYSID;
  } else if (pdu.password !== options.password) {
    status = smpp.ESME_RINVPASWD;
  }
  if (status !== 0) {
    session.send(pdu.response({ command_status: status }));
    emit('bind_refused', { system_id: pdu.system_id, mode, command_status: status });
    return;
  }
  session.bound = mode;
  session.system_id = pdu.system_id;
  session.send(pdu.response({ system_id: 'NodeSMSC' }));
  emit('bound', { system_id: pdu.system_id, mode });
  if (mode !== 'transmitter') {
    for (const receipt of pending.splice(0)) {
      sendReceipt(session, receipt);
    }
  }
}

const HANDLED = new Set([
  'bind_transceiver', 'bind_transmitter', 'bind_receiver', 'submit_sm', 'enquire_link', 'unbind',
  'deliver_sm_resp', 'unbind_resp', 'enquire_link_resp', 'generic_nack',
]);

const server = smpp.createServer((session) => {
  sessions.add(session);
  session.bound = null;
  session.closed = false;
  session.on('bind_transceiver', (pdu) => onBind(session, 'transceiver', pdu));
  session.on('bind_transmitter', (pdu) => onBind(session, 'transmitter', pdu));
  session.on('bind_receiver', (pdu) => onBind(session, 'receiver', pdu));
  session.on('submit_sm', (pdu) => onSubmit(session, pdu));
  session.on('enquire_link', (pdu) => {
    session.send(pdu.response());
    emit('enquire_link', {});
  });
  session.on('unbind', (pdu) => {
    session.send(pdu.response());
    emit('unbind', { system_id: session.system_id || null });
    session.bound = null;
    session.close();
  });
  session.on('pdu', (pdu) => {
    if (!HANDLED.has(pdu.command) && !pdu.isResponse()) {
      // An unknown command_id gets generic_nack (pdu.response() makes one), others a response.
      session.send(pdu.response({ command_status: smpp.ESME_RINVCMDID }));
      emit('refused', { command: pdu.command, command_status: smpp.ESME_RINVCMDID });
    }
  });
  session.on('error', (error) => emit('error', { reason: String(error && error.message || error) }));
  session.on('close', () => {
    session.closed = true;
    sessions.delete(session);
    emit('closed', { system_id: session.system_id || null });
  });
});

server.on('error', (error) => {
  emit('error', { reason: String(error && error.message || error) });
  process.exit(1);
});

server.listen(0, '127.0.0.1', () => emit('listening', { port: server.address().port }));

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  let command;
  try {
    command = JSON.parse(line);
  } catch (error) {
    emit('error', { reason: `not JSON: ${line}` });
    return;
  }
  if (command.cmd === 'mo') {
    const session = receivingSession(null);
    if (!session) {
      emit('error', { reason: 'no receiver or transceiver session for an MO message' });
      return;
    }
    deliver(session, {
      source_addr_ton: 1,
      source_addr_npi: 1,
      source_addr: command.from,
      dest_addr_ton: 0,
      dest_addr_npi: 1,
      destination_addr: command.to,
      esm_class: 0,
      // node-smpp encodes the text in the GSM 03.38 default alphabet for data_coding 0.
      data_coding: 0,
      short_message: command.text,
    }, 'mo', { from: command.from, to: command.to, text: command.text });
  } else if (command.cmd === 'disconnect') {
    const count = sessions.size;
    for (const session of sessions) {
      session.destroy();
    }
    emit('disconnected', { sessions: count });
  } else {
    emit('error', { reason: `unknown command: ${line}` });
  }
}).on('close', () => process.exit(0));
