// Command validate checks the modelwatch deployment files without a container engine:
// the compose file through compose-go (the loader and JSON schema Docker Compose v2
// itself uses), and the Kubernetes manifests by strict decoding into the k8s API types,
// so a misspelt or misplaced field is an error instead of being ignored.
//
// Usage: go run . -compose ../docker-compose.yml -k8s ../k8s
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	yamlv3 "go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

func main() {
	composeFile := flag.String("compose", "", "compose file to validate")
	k8sDir := flag.String("k8s", "", "directory of Kubernetes manifests (*.yaml) to validate")
	flag.Parse()
	failed := false
	if *composeFile != "" {
		if err := checkCompose(*composeFile); err != nil {
			fmt.Fprintf(os.Stderr, "FAIL %s: %v\n", *composeFile, err)
			failed = true
		}
	}
	if *k8sDir != "" {
		if err := checkK8s(*k8sDir); err != nil {
			fmt.Fprintf(os.Stderr, "FAIL %s: %v\n", *k8sDir, err)
			failed = true
		}
	}
	if failed {
		os.Exit(1)
	}
}

func checkCompose(path string) error {
	opts, err := cli.NewProjectOptions([]string{path}, cli.WithName("modelwatch"), cli.WithOsEnv)
	if err != nil {
		return err
	}
	project, err := opts.LoadProject(context.Background())
	if err != nil {
		return err
	}
	names := project.ServiceNames()
	sort.Strings(names)
	fmt.Printf("ok   %s: %d services (%s)\n", path, len(names), strings.Join(names, ", "))
	return nil
}

func checkK8s(dir string) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("no *.yaml manifests found")
	}
	var errs []error
	var objects manifests
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		dec := yamlv3.NewDecoder(bytes.NewReader(raw))
		for i := 0; ; i++ {
			var doc map[string]any
			if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				errs = append(errs, fmt.Errorf("%s document %d: %w", file, i, err))
				break
			}
			if doc == nil {
				continue
			}
			if err := checkObject(doc, &objects); err != nil {
				errs = append(errs, fmt.Errorf("%s document %d (%v): %w", file, i, doc["kind"], err))
			} else {
				fmt.Printf("ok   %s: %v %v\n", file, doc["kind"], doc["metadata"].(map[string]any)["name"])
			}
		}
	}
	for _, s := range objects.services {
		if err := serviceReachesPods(s, objects.deployments); err != nil {
			errs = append(errs, fmt.Errorf("Service %s: %w", s.Name, err))
		}
	}
	for _, d := range objects.deployments {
		if err := claimsExistAndFit(d, objects.claims); err != nil {
			errs = append(errs, fmt.Errorf("Deployment %s: %w", d.Name, err))
		}
	}
	return errors.Join(errs...)
}

// manifests are the objects the cross-checks look at.
type manifests struct {
	deployments []appsv1.Deployment
	services    []corev1.Service
	claims      []corev1.PersistentVolumeClaim
}

// claimsExistAndFit checks that every PersistentVolumeClaim a Deployment mounts is one of
// the manifests (a missing claim leaves the pod Pending), and that a Deployment mounting
// a ReadWriteOnce claim runs one replica with the Recreate strategy: a second replica, or
// a rolling update's new pod, on another node never gets the volume and waits forever.
func claimsExistAndFit(d appsv1.Deployment, claims []corev1.PersistentVolumeClaim) error {
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.PersistentVolumeClaim == nil {
			continue
		}
		name := v.PersistentVolumeClaim.ClaimName
		var claim *corev1.PersistentVolumeClaim
		for i := range claims {
			if claims[i].Name == name {
				claim = &claims[i]
			}
		}
		if claim == nil {
			return fmt.Errorf("volume %s: PersistentVolumeClaim %q is not in the manifests", v.Name, name)
		}
		readWriteOnce := false
		for _, mode := range claim.Spec.AccessModes {
			if mode == corev1.ReadWriteOnce || mode == corev1.ReadWriteOncePod {
				readWriteOnce = true
			}
		}
		if !readWriteOnce {
			continue
		}
		if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 {
			return fmt.Errorf("volume %s: claim %q is %v, so the Deployment needs replicas: 1", v.Name, name, claim.Spec.AccessModes)
		}
		if d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
			return fmt.Errorf("volume %s: claim %q is %v, so the Deployment needs strategy: {type: Recreate} (a rolling update's new pod would wait for the volume)", v.Name, name, claim.Spec.AccessModes)
		}
	}
	return nil
}

// serviceReachesPods checks that a Service selects the pods of some Deployment and that
// its named target ports exist on their containers: the mistakes that leave a Service
// without endpoints.
func serviceReachesPods(s corev1.Service, deployments []appsv1.Deployment) error {
	for _, d := range deployments {
		labels := d.Spec.Template.Labels
		selected := len(s.Spec.Selector) > 0
		for k, v := range s.Spec.Selector {
			if labels[k] != v {
				selected = false
			}
		}
		if !selected {
			continue
		}
		ports := map[string]bool{}
		for _, c := range d.Spec.Template.Spec.Containers {
			for _, p := range c.Ports {
				ports[p.Name] = true
			}
		}
		for _, p := range s.Spec.Ports {
			if name := p.TargetPort.StrVal; name != "" && !ports[name] {
				return fmt.Errorf("target port %q is not a container port of Deployment %s", name, d.Name)
			}
		}
		return nil
	}
	return fmt.Errorf("selector %v matches no Deployment's pod template", s.Spec.Selector)
}

// probePortsExist checks that every probe's named port is declared by its container.
func probePortsExist(d appsv1.Deployment) error {
	for _, c := range d.Spec.Template.Spec.Containers {
		ports := map[string]bool{}
		for _, p := range c.Ports {
			ports[p.Name] = true
		}
		for kind, probe := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe, "startup": c.StartupProbe} {
			if probe == nil || probe.HTTPGet == nil {
				continue
			}
			if name := probe.HTTPGet.Port.StrVal; name != "" && !ports[name] {
				return fmt.Errorf("container %s: %s probe uses port %q, which the container does not declare", c.Name, kind, name)
			}
		}
	}
	return nil
}

// checkObject strictly decodes one manifest into its API type (unknown fields and wrong
// types are errors) and collects Deployments, Services and claims for the cross-checks.
func checkObject(doc map[string]any, objects *manifests) error {
	js, err := yaml.Marshal(doc)
	if err != nil {
		return err
	}
	switch doc["kind"] {
	case "Deployment":
		var d appsv1.Deployment
		if err := yaml.UnmarshalStrict(js, &d); err != nil {
			return err
		}
		if d.Spec.Selector == nil || len(d.Spec.Template.Spec.Containers) == 0 {
			return fmt.Errorf("deployment needs a selector and containers")
		}
		for _, c := range d.Spec.Template.Spec.Containers {
			if c.Image == "" {
				return fmt.Errorf("container %q has no image", c.Name)
			}
		}
		if err := probePortsExist(d); err != nil {
			return err
		}
		objects.deployments = append(objects.deployments, d)
	case "Service":
		var s corev1.Service
		if err := yaml.UnmarshalStrict(js, &s); err != nil {
			return err
		}
		objects.services = append(objects.services, s)
	case "PersistentVolumeClaim":
		var c corev1.PersistentVolumeClaim
		if err := yaml.UnmarshalStrict(js, &c); err != nil {
			return err
		}
		if len(c.Spec.AccessModes) == 0 {
			return fmt.Errorf("claim needs spec.accessModes")
		}
		objects.claims = append(objects.claims, c)
	case "ConfigMap":
		var c corev1.ConfigMap
		if err := yaml.UnmarshalStrict(js, &c); err != nil {
			return err
		}
	default:
		return fmt.Errorf("kind %v is not checked by this validator", doc["kind"])
	}
	return nil
}
