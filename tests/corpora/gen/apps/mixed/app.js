function parse(text) {
  return JSON.parse(text);
}

function load(id) {
  console.log(`node worker: loading order ${id}`);
  return parse(`{"id": ${id},`);
}

load(process.argv[2]);
