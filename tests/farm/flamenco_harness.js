// Runs a Flamenco job compiler script the way Flamenco Manager does — JOB_TYPE's defaults
// filled into the submitted settings, then compileJob(job) — with `author` and `job` objects
// that record what it authors, and prints that as JSON for the tests to check and run.
//     node flamenco_harness.js JOB_TYPE.js SETTINGS_JSON
"use strict";
const fs = require("fs");
const vm = require("vm");

const [scriptPath, settingsJson] = process.argv.slice(2);
const tasks = [];
const author = {
    Task(name, type) {
        return {
            name, type, commands: [], dependencies: [],
            addCommand(command) { this.commands.push(command); },
            addDependency(task) { this.dependencies.push(task.name); },
        };
    },
    Command(type, parameters) { return { type, parameters }; },
};
const job = { settings: JSON.parse(settingsJson), addTask(task) { tasks.push(task); } };
const context = vm.createContext({ author, print: (...args) => console.error(...args) });
const { JOB_TYPE, compileJob } = vm.runInContext(
    `${fs.readFileSync(scriptPath, "utf8")}\n;({ JOB_TYPE, compileJob });`, context, { filename: scriptPath });
for (const setting of JOB_TYPE.settings) {
    if (!(setting.key in job.settings) && "default" in setting) {
        job.settings[setting.key] = setting.default;
    }
}
compileJob(job);
console.log(JSON.stringify({
    settings: JOB_TYPE.settings,
    tasks: tasks.map(({ name, type, commands, dependencies }) => ({ name, type, commands, dependencies })),
}));
