'use strict';
// The action's `post` step (action.yml): in job mode, stops the daemon `main` started and
// publishes its reports; in wrap mode `main` did everything and saved no state.
const core = require('@actions/core');
const { runnerContext } = require('./context');
const { stopDaemon } = require('./job-stop');

async function post() {
  const state = core.getState('cgfw');
  if (state === '') return;
  await stopDaemon(JSON.parse(state), runnerContext());
}

post().catch((error) => core.setFailed(`cgfw: ${error.message}`));
