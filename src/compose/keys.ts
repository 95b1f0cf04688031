/**
 * Every key of the compose specification baton knows about, and for those it
 * cannot honour, why: a deploy must warn about each one rather than drop it
 * silently, and a key that is not compose at all is an error (a typo).
 */

/** top-level keys */
export const TOP_LEVEL_KEYS = ['version', 'name', 'services', 'volumes', 'networks', 'configs', 'secrets', 'include', 'models'] as const;

export const TOP_LEVEL_UNSUPPORTED: Record<string, string> = {
  networks:
    'baton gives tasks no private networks; services reach each other through depends_on (BATON_UPSTREAM_<SERVICE> holds host:port of its healthy instances)',
  configs: 'baton has no configs; use a bind mount of a host volume or bake the file into the image',
  include: 'include is not supported: put every service in one file',
  models: 'models are not supported',
};

/** service keys baton turns into the job spec */
export const SERVICE_HONOURED = [
  'image',
  'command',
  'entrypoint',
  'environment',
  'env_file',
  'ports',
  'volumes',
  'healthcheck',
  'depends_on',
  'deploy',
  'restart',
  'scale',
  'cpus',
  'mem_limit',
  'mem_reservation',
  'stop_signal',
  'stop_grace_period',
  'secrets',
  // asks an agent refuses unless its operator allows them: the job is placed only on such agents
  'privileged',
  'network_mode',
  'pid',
  'cap_add',
  'devices',
  'user',
] as const;

const NO_NETWORK = 'baton gives tasks no private network or DNS names; services reach each other through depends_on (BATON_UPSTREAM_<SERVICE> env vars)';
const DRIVER_DEFAULT = "baton's docker driver runs containers with default settings for this";

/** service keys of the compose spec that baton cannot honour, with the reason shown in the warning */
export const SERVICE_UNSUPPORTED: Record<string, string> = {
  annotations: DRIVER_DEFAULT,
  attach: 'baton collects the logs of every task (baton logs)',
  blkio_config: DRIVER_DEFAULT,
  build: 'baton does not build images: build and push the image, then deploy',
  cap_drop: DRIVER_DEFAULT,
  cgroup: DRIVER_DEFAULT,
  cgroup_parent: 'baton places containers in its own cgroups',
  configs: 'baton has no configs; use a host volume or bake the file into the image',
  container_name: 'baton names the containers itself (one per replica)',
  cpu_count: 'use cpus or deploy.resources',
  cpu_percent: 'use cpus or deploy.resources',
  cpu_shares: 'use cpus or deploy.resources',
  cpu_period: 'use cpus or deploy.resources',
  cpu_quota: 'use cpus or deploy.resources',
  cpu_rt_runtime: DRIVER_DEFAULT,
  cpu_rt_period: DRIVER_DEFAULT,
  cpuset: DRIVER_DEFAULT,
  credential_spec: DRIVER_DEFAULT,
  develop: 'compose watch is a development feature',
  device_cgroup_rules: DRIVER_DEFAULT,
  dns: NO_NETWORK,
  dns_opt: NO_NETWORK,
  dns_search: NO_NETWORK,
  domainname: NO_NETWORK,
  driver_opts: DRIVER_DEFAULT,
  expose: 'without a private network exposing is not needed; publish the port with ports so other services get its address',
  extends: 'extends is not supported: write the service out, or use YAML anchors (<<: *base)',
  external_links: NO_NETWORK,
  extra_hosts: NO_NETWORK,
  gpus: 'baton does not schedule GPUs for compose services',
  group_add: DRIVER_DEFAULT,
  hostname: NO_NETWORK,
  init: DRIVER_DEFAULT,
  ipc: DRIVER_DEFAULT,
  isolation: DRIVER_DEFAULT,
  labels: "containers carry baton's own labels (alloc id, job, node)",
  label_file: "containers carry baton's own labels (alloc id, job, node)",
  links: NO_NETWORK,
  logging: 'baton collects stdout and stderr itself (baton logs)',
  mac_address: NO_NETWORK,
  mem_swappiness: DRIVER_DEFAULT,
  memswap_limit: DRIVER_DEFAULT,
  networks: NO_NETWORK,
  oom_kill_disable: 'baton reports OOM kills; they cannot be turned off',
  oom_score_adj: DRIVER_DEFAULT,
  pids_limit: DRIVER_DEFAULT,
  platform: 'use deploy.placement.constraints (node.platform.arch) to pick nodes',
  post_start: 'lifecycle hooks are not supported',
  pre_stop: 'lifecycle hooks are not supported; stop_signal and stop_grace_period are',
  profiles: 'every service of the file is deployed',
  provider: 'provider services are not supported',
  pull_policy: 'the agent pulls an image when it is missing',
  read_only: DRIVER_DEFAULT,
  runtime: DRIVER_DEFAULT,
  security_opt: DRIVER_DEFAULT,
  shm_size: DRIVER_DEFAULT,
  stdin_open: 'tasks run without a terminal',
  storage_opt: DRIVER_DEFAULT,
  sysctls: DRIVER_DEFAULT,
  tmpfs: DRIVER_DEFAULT,
  tty: 'tasks run without a terminal',
  ulimits: DRIVER_DEFAULT,
  use_api_socket: DRIVER_DEFAULT,
  userns_mode: DRIVER_DEFAULT,
  uts: DRIVER_DEFAULT,
  volumes_from: 'name the volumes in volumes instead',
  working_dir: "the container starts in the image's working directory",
};

export const SERVICE_KEYS: readonly string[] = [...SERVICE_HONOURED, ...Object.keys(SERVICE_UNSUPPORTED)];

export const DEPLOY_KEYS = [
  'mode',
  'replicas',
  'resources',
  'restart_policy',
  'update_config',
  'placement',
  'labels',
  'rollback_config',
  'endpoint_mode',
] as const;
export const DEPLOY_UNSUPPORTED: Record<string, string> = {
  labels: 'jobs carry meta stack and service instead',
  rollback_config: 'a rollback uses update_config (failure_action: rollback)',
  endpoint_mode: NO_NETWORK,
};

export const HEALTHCHECK_KEYS = ['test', 'interval', 'timeout', 'retries', 'start_period', 'start_interval', 'disable'] as const;
export const RESOURCE_KEYS = ['cpus', 'memory', 'pids', 'devices', 'generic_resources'] as const;
export const RESTART_POLICY_KEYS = ['condition', 'delay', 'max_attempts', 'window'] as const;
export const UPDATE_CONFIG_KEYS = ['parallelism', 'delay', 'failure_action', 'monitor', 'max_failure_ratio', 'order'] as const;
export const PLACEMENT_KEYS = ['constraints', 'preferences', 'max_replicas_per_node'] as const;
export const PORT_KEYS = ['target', 'published', 'host_ip', 'protocol', 'mode', 'name', 'app_protocol'] as const;
export const VOLUME_KEYS = ['type', 'source', 'target', 'read_only', 'bind', 'volume', 'tmpfs', 'consistency', 'image'] as const;
export const TOP_VOLUME_KEYS = ['name', 'driver', 'driver_opts', 'external', 'labels'] as const;
export const DEPENDS_ON_KEYS = ['condition', 'restart', 'required'] as const;
