// SPDX-License-Identifier: GPL-3.0-or-later
// Blockcast job type for Flamenco v3: a .blend's shots -> pass export (chunked, CPU) -> merge
// per shot -> generation per shot x take batch (GPU task type) -> assembly into a sequencer .blend.
// Install: copy this file into the `scripts/` folder next to flamenco-manager (docs/farm.md).
// Every task runs one of Blockcast's own scripts with plain arguments (no shell); every path
// is built from settings and Manager variables ({blender}, {blockcast}, {blockcast_python}),
// which the Manager maps per worker platform. The Manager replaces `{NAME}` in every argument
// with its variable NAME, and has no escape for it: names and prompts therefore go as JSON
// string literals without braces (literal(), the encoding of farm/literal.py), which the
// tasks decode, and values as `--option=VALUE`, so a value starting with '-' stays one.

// The bundle passes each built-in backend cannot do without: engine/bundle/backend_passes.py's
// BACKEND_PASSES, which JavaScript cannot import (tests/farm/test_flamenco.py keeps them, and the
// backend and passes defaults below, in step). Added at compile time, so a backend chosen at
// submission gets its passes.
const BACKEND_PASSES = { previz: ["shading", "depth", "normal", "objects"], "sana-wm": ["camera"] };

const JOB_TYPE = {
    label: "Blockcast",
    description: "Blockcast: export passes, generate takes and assemble them for the chosen shots",
    settings: [
        { key: "shots", type: "string", required: true, visible: "submission",
          eval: "C.scene.blockcast_farm.shots_json",
          description: "Shots as JSON [[name, first frame, last frame], ...] (filled in by Blockcast's Farm panel)" },
        { key: "scene", type: "string", required: true, eval: "C.scene.name", visible: "web",
          description: "The scene the shots are in" },
        { key: "output_root", type: "string", subtype: "dir_path", required: true, visible: "submission",
          description: "Folder for chunks/, bundles/, takes/ and edit/ (shared storage)" },
        { key: "chunk_size", type: "int32", default: 24, propargs: { min: 1 }, visible: "submission",
          description: "Frames per pass-export task" },
        { key: "takes", type: "int32", default: 1, propargs: { min: 1 }, visible: "submission",
          description: "Takes per shot (seeds seed, seed+1, ...)" },
        { key: "takes_per_task", type: "int32", default: 1, propargs: { min: 1 }, visible: "submission",
          description: "Takes per generation task (models load once per task)" },
        { key: "seed", type: "int32", default: 0, visible: "submission", description: "First take's seed of shots without their own" },
        { key: "backend", type: "string", default: "previz", visible: "submission", description: "Engine backend" },
        { key: "passes", type: "string", default: "depth,pose,camera", visible: "submission",
          description: "Passes to export; those the backend needs are added (previz: shading, normal, objects)" },
        { key: "prompt", type: "string", default: "", visible: "submission", description: "Prompt of shots without their own" },
        { key: "steps", type: "int32", default: 0, propargs: { min: 0 }, visible: "submission",
          description: "Denoising steps; 0 is the backend's default" },
        { key: "generation_size", type: "string", default: "", visible: "submission",
          description: "Generation size WxH; empty is the backend's default" },
        { key: "models", type: "string", default: "", visible: "submission",
          description: "Model overrides ROLE=ID_OR_PATH separated by ';'" },
        { key: "device", type: "string", default: "cuda", choices: ["cuda", "auto", "cpu", "mps"], visible: "submission",
          description: "Generation device ('auto' or 'cpu' for a farm without GPUs, 'mps' for Apple silicon workers)" },
        { key: "memory", type: "string", default: "auto", choices: ["auto", "high", "balanced", "low"], visible: "submission",
          description: "The engine's memory preset (--memory); auto picks from each worker's free GPU memory" },
        { key: "gpu_task_type", type: "string", default: "blockcast-gpu", visible: "submission",
          description: "Task type of generation tasks: only workers listing it in task_types run them; 'misc' lets any worker" },
        { key: "blockcast", type: "string", default: "{blockcast}", visible: "web",
          description: "The Blockcast checkout on the workers" },
        { key: "engine_python", type: "string", default: "{blockcast_python}", visible: "web",
          description: "The engine venv's Python on the workers" },
        { key: "blendfile", type: "string", required: true, visible: "web", description: "The .blend to export from" },
    ],
};

function compileJob(job) {
    const settings = job.settings;
    const shots = parseShots(settings.shots);
    const assemble = author.Task("assemble", "blender");
    assemble.addCommand(author.Command("exec", {
        exe: "{blender}",
        args: ["-b", "--factory-startup", "--python-exit-code", "1", "-P", script(settings, "farm_assemble.py"), "--",
               "--output-dir", settings.output_root, `--shots=${shots.map((shot) => shot.folder).join(",")}`],
    }));
    for (const shot of shots) {
        const merge = mergeTask(settings, shot, exportTasks(job, settings, shot));
        job.addTask(merge);
        for (const task of generateTasks(settings, shot, merge)) {
            job.addTask(task);
            assemble.addDependency(task);
        }
    }
    job.addTask(assemble);
}

function exportTasks(job, settings, shot) {
    const tasks = [];
    for (const frames of chunkRanges(shot.first, shot.last, settings.chunk_size)) {
        const task = author.Task(`export-${shot.folder}-${frames}`, "blender");
        task.addCommand(author.Command("blender-render", {
            exe: "{blender}",
            exeArgs: "{blenderArgs}",
            argsBefore: ["--factory-startup"],
            blendfile: settings.blendfile,
            args: ["--python-exit-code", "1", "-P", script(settings, "farm_export.py"), "--",
                   `--scene-json=${literal(settings.scene)}`, `--shot-json=${literal(shot.name)}`,
                   `--frames=${frames}`, `--passes=${exportPasses(settings)}`,
                   "--out", joinPath(settings.output_root, "chunks", shot.folder, frames),
                   "--skip-done", "--overwrite"],
        }));
        job.addTask(task);
        tasks.push(task);
    }
    return tasks;
}

function mergeTask(settings, shot, exports) {
    const task = author.Task(`merge-${shot.folder}`, "misc");
    task.addCommand(author.Command("exec", {
        exe: settings.engine_python,
        args: [script(settings, "farm_merge.py"), "--chunks-dir", joinPath(settings.output_root, "chunks", shot.folder),
               `--chunks=${chunkRanges(shot.first, shot.last, settings.chunk_size).join(",")}`,
               "--out", joinPath(settings.output_root, "bundles", shot.folder)],
    }));
    for (const exportTask of exports) {
        task.addDependency(exportTask);
    }
    return task;
}

function generateTasks(settings, shot, merge) {
    const tasks = [];
    for (let first = 1; first <= settings.takes; first += settings.takes_per_task) {
        const task = author.Task(`generate-${shot.folder}-take-${first}`, settings.gpu_task_type);
        task.addCommand(author.Command("exec", {
            exe: settings.engine_python,
            args: [script(settings, "farm_generate.py"), joinPath(settings.output_root, "bundles", shot.folder),
                   "--out", joinPath(settings.output_root, "takes", shot.folder),
                   "--first-take", String(first), "--takes-per-task", String(settings.takes_per_task),
                   "--takes", String(settings.takes), `--seed=${own(shot.seed, settings.seed)}`,
                   `--backend=${settings.backend}`, `--prompt-json=${literal(own(shot.prompt, settings.prompt))}`,
                   `--steps=${settings.steps}`,
                   `--size=${settings.generation_size}`, `--models=${settings.models}`, `--device=${settings.device}`,
                   `--memory=${settings.memory}`],
        }));
        task.addDependency(merge);
        tasks.push(task);
    }
    return tasks;
}

// The chosen passes plus those the backend needs, as farm/job.py's passes_for_backend().
function exportPasses(settings) {
    const names = settings.passes.split(",").map((name) => name.trim()).filter((name) => name);
    const needed = Object.prototype.hasOwnProperty.call(BACKEND_PASSES, settings.backend)
        ? BACKEND_PASSES[settings.backend].filter((name) => names.indexOf(name) < 0) : [];
    return names.concat(needed).join(",");
}

// A shot's own prompt or seed (farm/flamenco_job.py's shots_json), else the job's.
function own(value, jobValue) {
    return value === null || value === undefined ? jobValue : value;
}

// [{name, folder, first, last, prompt, seed}] from the JSON setting; the folder name matches farm/layout.py's
// shot_folder().
function parseShots(text) {
    const shots = JSON.parse(text).map(([name, first, last, prompt, seed]) => ({ name: name, first: first,
        last: last, prompt: prompt, seed: seed,
        folder: name.replace(/[^A-Za-z0-9._-]+/g, "_").replace(/^[._-]+|[._-]+$/g, "") || "shot" }));
    if (shots.length == 0) {
        throw "Blockcast: no shots to export: choose shots in the Farm panel";
    }
    const folders = shots.map((shot) => shot.folder);
    if (new Set(folders).size != folders.length) {
        throw `Blockcast: two shots share an output folder name (${folders.join(", ")}): rename one`;
    }
    return shots;
}

// "A-B" frame ranges of at most `size` frames, as farm/layout.py's chunk_ranges().
function chunkRanges(first, last, size) {
    if (size < 1) {
        throw "Blockcast: the chunk size must be at least 1 frame";
    }
    const ranges = [];
    for (let start = first; start <= last; start += size) {
        ranges.push(`${start}-${Math.min(start + size - 1, last)}`);
    }
    return ranges;
}

// `text` as a JSON string literal with braces and control characters as \u escapes: no
// `{NAME}` for the Manager to replace (decoded by farm/literal.py's decode in the task).
function literal(text) {
    return JSON.stringify(String(text)).replace(/[{}\u007f-\u009f]/g,
        (c) => "\\u" + ("000" + c.charCodeAt(0).toString(16)).slice(-4));
}

function script(settings, name) {
    return joinPath(settings.blockcast, "scripts", name);
}

function joinPath(...parts) {
    return parts.join("/");
}
