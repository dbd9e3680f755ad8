// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//DEPS info.picocli:picocli:4.7.7
//SOURCES ../env/EnvConfig.java

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import picocli.CommandLine;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * A bash (and zsh with bashcompinit) completion script for gfw, generated from the picocli model,
 * so that every option, every {@code -o} value and every {@code --dry-run} mode is there without
 * a list to keep: subcommands, options, enum values, environment names (read from the
 * environments directory each time Tab is pressed) and runner types. It also defines a shell
 * function {@code gfw} running this checkout's launcher, so {@code source <(./jbang
 * scripts/gfw.java completion)} gives a {@code gfw} command that completes.
 */
final class BashCompletion {

    /** {@code launcher}: the command words that run gfw (e.g. the checkout's ./jbang and scripts/gfw.java). */
    static String script(CommandLine root, List<String> launcher, Path envDir, List<String> runnerTypes) {
        String name = root.getCommandName();
        String fn = "_" + name.replaceAll("[^A-Za-z0-9_]", "_") + "_complete";
        var sb = new StringBuilder();
        sb.append("# ").append(name).append(" completion for bash (zsh: autoload -U bashcompinit && bashcompinit first).\n");
        sb.append("# Use: source <(").append(String.join(" ", launcher)).append(" completion)\n");
        sb.append(name).append("() { ").append(String.join(" ", launcher.stream().map(BashCompletion::sh).toList())).append(" \"$@\"; }\n");
        sb.append(fn).append("_environments() {\n")
                .append("  local f\n")
                .append("  for f in ").append(sh(envDir.toAbsolutePath().normalize().toString())).append("/*.yaml; do\n")
                .append("    [[ -e $f ]] || continue; f=${f##*/}; printf '%s\\n' \"${f%.yaml}\"\n")
                .append("  done\n}\n");
        sb.append(fn).append("() {\n");
        sb.append("  local cur=${COMP_WORDS[COMP_CWORD]} prev=\"\" cmd=${COMP_WORDS[1]:-} i w skip=0 pos=0\n");
        sb.append("  ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD-1]}\n");
        sb.append("  # bash splits --opt=value at '=': complete the value of --opt\n");
        sb.append("  if [[ $cur == = ]]; then cur=\"\"; elif [[ $prev == = ]] && ((COMP_CWORD > 1)); then prev=${COMP_WORDS[COMP_CWORD-2]}; fi\n");
        sb.append("  COMPREPLY=()\n");
        sb.append("  if ((COMP_CWORD == 1)); then\n");
        sb.append("    COMPREPLY=($(compgen -W ").append(sh(String.join(" ", words(root.getCommandSpec(), true)))).append(" -- \"$cur\")); return\n");
        sb.append("  fi\n");
        sb.append("  case $cmd in\n");
        for (var e : root.getSubcommands().entrySet()) {
            CommandSpec spec = e.getValue().getCommandSpec();
            sb.append("    ").append(sh(e.getKey())).append(")\n");
            // Values of options.
            sb.append("      case $prev in\n");
            for (OptionSpec o : spec.options()) {
                if (o.arity().max() == 0) continue;
                sb.append("        ").append(String.join("|", o.names())).append(") ");
                List<String> values = candidates(o);
                if (!values.isEmpty()) sb.append("COMPREPLY=($(compgen -W ").append(sh(String.join(" ", values))).append(" -- \"$cur\")); return;;\n");
                else if (o.paramLabel().matches(".*(FILE|DIR|PATH).*")) sb.append("COMPREPLY=($(compgen -f -- \"$cur\")); return;;\n");
                else sb.append("return;; # a value of its own: nothing to offer\n");
            }
            sb.append("      esac\n");
            sb.append("      if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W ").append(sh(String.join(" ", words(spec, false))))
                    .append(" -- \"$cur\")); return; fi\n");
            // Which positional parameter is being typed: words after the command, minus options and their values.
            sb.append("      for ((i = 2; i < COMP_CWORD; i++)); do\n");
            sb.append("        w=${COMP_WORDS[i]}\n");
            sb.append("        if ((skip)); then skip=0; continue; fi\n");
            sb.append("        case $w in\n");
            sb.append("          =) skip=1 ;;\n");
            String consuming = String.join("|", spec.options().stream().filter(o -> o.arity().min() > 0)
                    .flatMap(o -> java.util.Arrays.stream(o.names())).toList());
            if (!consuming.isEmpty()) {
                sb.append("          ").append(consuming).append(") [[ ${COMP_WORDS[i+1]:-} == = ]] || skip=1 ;;\n");
            }
            sb.append("          -*) ;;\n");
            sb.append("          *) pos=$((pos + 1)) ;;\n");
            sb.append("        esac\n");
            sb.append("      done\n");
            sb.append("      case $pos in\n");
            for (CommandLine.Model.PositionalParamSpec p : spec.positionalParameters()) {
                String indexes = p.index().isUnspecified() ? "*" : p.index().max() == Integer.MAX_VALUE ? "*"
                        : range(p.index().min(), p.index().max());
                if (p.index().max() == Integer.MAX_VALUE && p.index().min() > 0) indexes = "[" + p.index().min() + "-9]|[1-9][0-9]";
                sb.append("        ").append(indexes).append(") ");
                String label = p.paramLabel().replaceAll("[^A-Z]", "");
                List<String> values = candidates(p);
                if (label.equals("ENV")) {
                    sb.append("COMPREPLY=($(compgen -W \"$(").append(fn).append("_environments)\" -- \"$cur\"));;\n");
                } else if (label.equals("TYPE")) {
                    sb.append("COMPREPLY=($(compgen -W ").append(sh(String.join(" ", runnerTypes))).append(" -- \"$cur\"));;\n");
                } else if (!values.isEmpty()) {
                    sb.append("COMPREPLY=($(compgen -W ").append(sh(String.join(" ", values))).append(" -- \"$cur\"));;\n");
                } else {
                    sb.append("COMPREPLY=($(compgen -f -- \"$cur\"));;\n");
                }
            }
            // A command with its own subcommands after its parameters (runners ENV COMMAND): their names.
            if (!e.getValue().getSubcommands().isEmpty()) {
                sb.append("        ").append(spec.positionalParameters().size()).append(") COMPREPLY=($(compgen -W ")
                        .append(sh(String.join(" ", e.getValue().getSubcommands().keySet()))).append(" -- \"$cur\"));;\n");
            }
            sb.append("      esac\n");
            sb.append("      ;;\n");
        }
        sb.append("  esac\n");
        sb.append("}\n");
        sb.append("complete -F ").append(fn).append(" ").append(name).append("\n");
        return sb.toString();
    }

    /** Runner types of every environment file found (for completing deploy-runners ENV TYPE...). */
    static List<String> runnerTypes(String envDirOption) {
        var types = new TreeSet<String>();
        for (String env : EnvConfig.available(envDirOption)) {
            try {
                for (EnvConfig.Runner r : EnvConfig.load(env, envDirOption).runners()) types.add(r.type());
            } catch (RuntimeException e) {
                // an invalid file completes no types; gfw validate says why
            }
        }
        return List.copyOf(types);
    }

    private static String range(int min, int max) {
        var parts = new ArrayList<String>();
        for (int i = min; i <= max; i++) parts.add(String.valueOf(i));
        return String.join("|", parts);
    }

    /** Subcommand names (for the root) or option names (for a command). */
    private static List<String> words(CommandSpec spec, boolean root) {
        var out = new ArrayList<String>();
        if (root) out.addAll(spec.subcommands().keySet());
        for (OptionSpec o : spec.options()) out.addAll(List.of(o.names()));
        return out;
    }

    private static List<String> candidates(ArgSpec a) {
        var out = new ArrayList<String>();
        if (a.completionCandidates() != null) for (String c : a.completionCandidates()) out.add(c);
        return out;
    }

    /** A word for the shell, single-quoted. */
    static String sh(String s) {
        return "'" + s.replace("'", "'\\''") + "'";
    }

    /**
     * The command words that run this gfw: the launcher that started it ({@code JBANG_LAUNCH_CMD},
     * e.g. the checkout's ./jbang) with the script it ran ({@code GFW_SCRIPT}, set by ./jbang), else
     * JBang with the catalog alias.
     */
    static List<String> launcher(String launchCmd, String script) {
        if (script != null && script.endsWith("/gfw.java") && Files.isRegularFile(Path.of(script))) {
            boolean launcherOk = launchCmd != null && !launchCmd.isBlank() && Files.isExecutable(Path.of(launchCmd));
            return List.of(launcherOk ? launchCmd : "jbang", script);
        }
        return List.of("jbang", "gfw@gloriousflywheel");
    }

    private BashCompletion() {}
}
