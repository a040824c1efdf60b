'use strict';
// The cgfw-sandbox command lines of both modes, as argv arrays (never a shell string: the `run`
// input and paths go through untouched).

// Options both modes share. Paths are absolute: sudo and the daemon may run elsewhere.
function sandboxOptions(inputs, layout, allowFiles) {
  const args = [];
  if (inputs.mode === 'audit') args.push('--audit');
  for (const file of allowFiles) args.push('--allow-file', file);
  for (const upstream of inputs.dnsUpstreams) args.push('--dns-upstream', upstream);
  if (inputs.failOnBlock) args.push('--fail-on-block');
  args.push('--report-json', layout.report, '--report-sarif', layout.sarif);
  args.push('--report-md', layout.markdown);
  return args;
}

// `sudo -n -E`: -E keeps the step's environment (GITHUB_WORKSPACE, GITHUB_WORKFLOW_REF for the
// SARIF locations, HOME, tool variables for the command); cgfw-sandbox finds the user to run the
// command as in SUDO_UID.
function asRoot(sudo, argv) {
  return sudo ? [sudo, '-n', '-E', ...argv] : argv;
}

// Wrap mode. The command runs as `shell: bash` runs a step (bash --noprofile --norc -eo pipefail).
// sudo replaces PATH with its secure_path even with -E, which would lose what setup-* actions
// added, so PATH is set again through env(1) after sudo.
function wrapCommand({ inputs, layout, allowFiles, binary, sudo, path }) {
  const sandbox = [binary, ...sandboxOptions(inputs, layout, allowFiles)];
  const command = ['bash', '--noprofile', '--norc', '-eo', 'pipefail', '-c', inputs.run];
  const argv = sudo ? ['/usr/bin/env', `PATH=${path}`, ...sandbox] : sandbox;
  return asRoot(sudo, [...argv, '--', ...command]);
}

// Job mode: no command; cgfw-sandbox moves WORKER (the runner's worker process, whose later
// children are the job's later steps) into the sandbox and writes READY once it is enforcing.
function daemonCommand({ inputs, layout, allowFiles, binary, sudo, workerPid }) {
  return asRoot(sudo, [
    binary,
    '--attach-pid',
    String(workerPid),
    '--ready-file',
    layout.ready,
    ...sandboxOptions(inputs, layout, allowFiles),
  ]);
}

// What a shell would need to run ARGV: for logs only.
function shellQuote(argv) {
  return argv
    .map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`))
    .join(' ');
}

module.exports = { sandboxOptions, wrapCommand, daemonCommand, asRoot, shellQuote };
