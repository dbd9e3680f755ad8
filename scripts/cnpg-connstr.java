///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//DEPS info.picocli:picocli:4.7.7
//DEPS io.fabric8:kubernetes-client:7.4.0
//DEPS com.fasterxml.jackson.dataformat:jackson-dataformat-yaml:2.19.2
//SOURCES ../lib/ExitCode.java
//SOURCES ../lib/GfwException.java
//SOURCES ../lib/EnvConfig.java
//SOURCES ../lib/Cli.java

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** Print the Attic database connection string from the CloudNativePG secret. (being written: see its issue). */
@Command(name = "cnpg-connstr", mixinStandardHelpOptions = true, description = "Print the Attic database connection string from the CloudNativePG secret.")
class CnpgConnstr implements Callable<Integer> {
    public static void main(String... args) {
        System.exit(Cli.run(new CnpgConnstr(), args));
    }

    @Override
    public Integer call() {
        throw new GfwException(ExitCode.INTERNAL, "cnpg-connstr is not written yet");
    }
}
